"""The main screen: the run's panes, the cursor through its history, search, filter, copy.

The app folds the events (`ExplorerApp.flush`); this screen shows them. Following the
live run, it shows the app's `RunView` as it changes; anywhere else, the cursor
(`position`) says which event of which block it shows, rebuilt from the `History`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from explorer.tui.actions import ACTIONS, BY_NAME, screen_bindings
from explorer.tui.child_pane import ChildPane
from explorer.tui.child_strip import ChildStrip
from explorer.tui.find_bar import FindBar, FindMode
from explorer.tui.history import History, Position
from explorer.tui.invariant_panel import InvariantPanel, InvariantRow
from explorer.tui.iteration_list import IterationList
from explorer.tui.messages import IterationChosen, StateUpdated
from explorer.tui.model import BlockView, RunView
from explorer.tui.run_header import RunHeader
from explorer.tui.state_pane import StatePane
from explorer.tui.timeline import TimelineScreen
from explorer.tui.why_screen import WhyScreen, why_source

if TYPE_CHECKING:
    from explorer.tui.app import ExplorerApp

# Below this many columns the children's panes take turns (one shown, a strip naming
# all) and the side panels narrow: four panes side by side would be a dozen columns each.
NARROW_COLUMNS = 130
# The find bar's keys, and the mode each opens ("find('search')" -> "search").
_FIND_KEYS = {a.key: cast(FindMode, a.action.split("'")[1]) for a in ACTIONS if a.name == "find"}


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#iterations"
    BINDINGS = screen_bindings()

    def __init__(self, start: Position | None = None) -> None:
        super().__init__()
        self.start = start  # where a replay opens (None: its end, or the live run)
        self.position: Position | None = None  # None: following the live run
        self.shown = RunView()  # what the screen shows: the live view, or one rebuilt
        self.panes: dict[int, ChildPane] = {}
        self.last_match: tuple[int, int] | None = None  # (child slot, line) of the last hit
        self._search = ""
        self.header = RunHeader()
        self.iteration_list = IterationList()
        self.invariant_panel = InvariantPanel()
        self.state_pane = StatePane()
        self.find_bar = FindBar()
        self.pane_grid = Grid(id="panes")
        self.child_strip = ChildStrip()
        self.current_slot: int | None = None  # the pane shown when they take turns

    @property
    def explorer(self) -> ExplorerApp:
        return cast("ExplorerApp", self.app)

    @property
    def history(self) -> History:
        return self.explorer.history

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            yield self.iteration_list
            with Vertical(id="children"):
                yield self.child_strip
                yield self.pane_grid
            with Vertical(id="side"):
                yield self.invariant_panel
                yield self.state_pane
        yield self.find_bar
        yield Footer()

    async def on_mount(self) -> None:
        self.watch(self.app, "paused", self.refresh_status, init=False)
        self.watch(self.app, "stepping", self.refresh_status, init=False)
        await self.goto(self.start)

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    async def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_COLUMNS
        if narrow != self.narrow:
            self.set_class(narrow, "-narrow")
            if self.shown.block is not None:
                await self._show_panes(self.shown.block, rebuild=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        declared = BY_NAME.get(action)
        return declared.available(self) if declared is not None else True

    # --- showing -------------------------------------------------------------------

    async def show_changes(self, changes: set[str]) -> None:
        """The live view changed (`changes` says which parts): show it, if followed."""
        if self.position is None:
            await self._render_view(self.shown, changes)
        else:
            self._render_chrome(self.shown)

    def refresh_status(self) -> None:
        """The run was paused, resumed, stepped or ended: the header and the keys change."""
        self._render_chrome(self.shown)
        self.refresh_bindings()

    def _status(self) -> str:
        app = self.explorer
        if not app.live:
            return "▶ replay"
        if app.run_result is not None:
            word = "interrupted" if app.run_result.interrupted else "finished"
            return f"■ {word} · exit {app.run_result.exit_code}"
        if app.run_error is not None:
            return "✗ run failed"
        state = "❚❚ paused" if app.paused else "● running"
        if app.stepping:
            last = self.shown.block.last_decision if self.shown.block else ""
            state += " · stepping decisions (s: one, g: go on)" + (f" · {last}" if last else "")
        return state

    def _where(self, view: RunView) -> str:
        block = view.block
        if self.position is None or block is None:
            return self.explorer.source
        total = self.history.last_index(block.iteration) + 1
        event = self.history.events(block.iteration)[self.position.index]
        where = f"{block.block} {block.iteration} · event {self.position.index + 1}/{total}"
        return f"{where} {event.kind}" + (" · l: follow live" if self.explorer.live else "")

    def _render_chrome(self, view: RunView) -> None:
        app = self.explorer
        if app.live:
            # Live, the header and the list tell what has happened so far.
            header_view = app.view
            summaries = app.view.summaries
        else:
            # A replay's header tells the whole run, and its list has every block.
            header_view = RunView()
            if self.history.run_started is not None:
                header_view.apply(self.history.run_started)
            header_view.summaries = summaries = self.history.summaries()
            if self.history.run_finished is not None:
                header_view.apply(self.history.run_finished)
        self.header.show(header_view, self._status(), self._where(view))
        self.iteration_list.show(summaries, view.block.iteration if view.block else None)

    async def _render_view(self, view: RunView, changes: set[str] | None) -> None:
        """Show `view`; `changes` limits the work to what changed (None: everything)."""
        self._render_chrome(view)
        block = view.block
        if block is None:
            return
        everything = changes is None or "block" in changes
        if everything or "panes" in (changes or ()):
            await self._show_panes(block, rebuild=everything)
        if everything or "invariants" in (changes or ()):
            self.invariant_panel.show(block.invariants)
        if everything or "state" in (changes or ()):
            self.state_pane.post_message(StateUpdated(block.state, block.state.version))

    async def _show_panes(self, block: BlockView, rebuild: bool) -> None:
        grid = self.pane_grid
        for slot in sorted(block.children):
            if slot not in self.panes:
                pane = ChildPane(slot)
                pane.set_filter(self._filter_text())
                later = [p for s, p in sorted(self.panes.items()) if s > slot]
                self.panes[slot] = pane
                await grid.mount(pane, before=later[0] if later else None)
        shown = [slot for slot in sorted(self.panes) if slot in block.children]
        if self.current_slot not in shown:
            self.current_slot = shown[0] if shown else None
        for slot, pane in self.panes.items():
            visible = slot in block.children and (not self.narrow or slot == self.current_slot)
            if pane.display != visible:
                pane.display = visible
        columns = 1 if len(shown) == 1 or self.narrow else 2
        if grid.styles.grid_size_columns != columns:
            grid.styles.grid_size_columns = columns
        if self.narrow:
            self.child_strip.show(block, self.current_slot)
        for slot in shown:
            pane = self.panes[slot]
            if rebuild:
                pane.view = None
            pane.show(block.children[slot])

    async def action_show_pane(self, slot: int) -> None:
        block = self.shown.block
        if block is None or slot not in block.children:
            return
        self.current_slot = slot
        await self._show_panes(block, rebuild=False)
        self.panes[slot].focus()

    async def action_other_pane(self) -> None:
        block = self.shown.block
        slots = sorted(s for s in self.panes if block is not None and s in block.children)
        if not slots:
            return
        focused = self.focused
        now = focused.slot if isinstance(focused, ChildPane) else self.current_slot
        later = [s for s in slots if now is None or s > now]
        await self.action_show_pane(later[0] if later else slots[0])

    def action_zoom(self) -> None:
        """Maximise the focused pane (or restore it): a child, the invariants, the state."""
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if isinstance(focused, InvariantRow):
            self.maximize(self.invariant_panel, container=False)
        elif focused is not None and self.state_pane in focused.ancestors_with_self:
            self.maximize(self.state_pane, container=False)
        elif isinstance(focused, ChildPane):
            self.maximize(focused, container=False)
        elif self.current_slot is not None and self.current_slot in self.panes:
            pane = self.panes[self.current_slot]
            pane.focus()
            self.maximize(pane, container=False)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, ChildPane):
            self.current_slot = event.widget.slot

    # --- the cursor ------------------------------------------------------------------

    async def goto(self, position: Position | None) -> None:
        """Show the screen as of `position` (None: follow the live run)."""
        app = self.explorer
        if position is None and not app.live:
            position = self.history.end()
            if position is None:
                self._render_chrome(self.shown)
                return
        self.position = position
        self.shown = app.view if position is None else self.history.view_at(position)
        if warning := self.history.take_warning():  # a block just read had a bad line
            self.explorer.warn_about_trace(warning)
        await self._render_view(self.shown, None)
        self.refresh_bindings()

    def _here(self) -> Position | None:
        return self.position if self.position is not None else self.history.end()

    async def action_step(self, delta: int) -> None:
        here = self._here()
        if here is None:
            return
        target = self.history.step(here, delta)
        if target is None:
            if delta > 0:
                self.notify("That was the last recorded event.")
            return
        if self.position == here and target == Position(here.iteration, here.index + 1):
            # One step forwards: fold one more event instead of rebuilding the block.
            self.position = target
            self.shown.apply(self.history.events(target.iteration)[target.index])
            await self._render_view(self.shown, self.shown.take_changes())
            return
        await self.goto(target)

    async def action_block_edge(self, direction: int) -> None:
        here = self._here()
        if here is not None:
            await self.goto(self.history.block_edge(here, direction))

    async def _goto_other_block(self, direction: int) -> None:
        here = self._here()
        target = self.history.other_block(here, direction) if here is not None else None
        if target is not None:
            await self.goto(target)

    async def action_next_iteration(self) -> None:
        await self._goto_other_block(1)

    async def action_previous_iteration(self) -> None:
        await self._goto_other_block(-1)

    async def action_next_break(self) -> None:
        here = self._here()
        target = self.history.next_break(here) if here else None
        if target is None:
            self.notify("No later break.")
            return
        await self.goto(target)

    async def action_previous_break(self) -> None:
        here = self._here()
        if here is None:
            return
        if self.position is None:
            here = Position(here.iteration, here.index + 1)  # the end itself may be a break
        target = self.history.previous_break(here)
        if target is None:
            self.notify("No earlier break.")
            return
        await self.goto(target)

    async def action_follow(self) -> None:
        await self.goto(None)

    async def on_iteration_chosen(self, message: IterationChosen) -> None:
        n = message.iteration
        live_block = self.explorer.view.block
        if self.explorer.live and live_block is not None and n == live_block.iteration:
            await self.goto(None)
        elif n in self.history.iterations:
            await self.goto(Position(n, self.history.last_index(n)))

    def action_timeline(self) -> None:
        if self.shown.block is None:
            self.notify("No iteration to show yet.")
            return
        self.app.push_screen(TimelineScreen(self.shown.block))

    def action_why(self) -> None:
        block = self.shown.block
        if block is None:
            return
        source = why_source(self.history, block.iteration, self.explorer.trace_path)
        self.app.push_screen(WhyScreen(block.iteration, source))

    # --- search, filter, copy ----------------------------------------------------------

    def _filter_text(self) -> str:
        bar = self.find_bar
        return bar.value if bar.mode == "filter" else ""

    def action_find(self, mode: FindMode) -> None:
        self.find_bar.open(mode, self._search if mode == "search" else self._filter_text())

    @on(Input.Changed, "#find-bar")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self.find_bar.mode == "filter":
            for pane in self.panes.values():
                pane.set_filter(event.value)

    @on(Input.Submitted, "#find-bar")
    def _find_submitted(self, event: Input.Submitted) -> None:
        if self.find_bar.mode == "search":
            self.search(event.value)
        else:
            self.find_bar.action_close()

    def on_key(self, event: events.Key) -> None:
        """Open the find bar as its key arrives, and give it the keys typed after.

        Keys typed quickly arrive together and are all sent to the focused pane before
        a binding would run: by then the bar has lost them. Here, in the order typed,
        the bar opens at once, takes the focus, and the keys already sent are its own.
        """
        bar = self.find_bar
        if self.focused is bar:
            if event.is_printable and event.character:
                event.stop()
                event.prevent_default()
                bar.insert_text_at_cursor(event.character)
        elif event.key in _FIND_KEYS and self.check_action("find", ()):
            event.stop()
            event.prevent_default()
            self.action_find(_FIND_KEYS[event.key])

    def on_find_bar_closed(self, _: FindBar.Closed) -> None:
        visible = [p for p in self.panes.values() if p.display]
        if visible:
            visible[0].focus()

    def search(self, term: str) -> tuple[int, int] | None:
        """Find the next line containing `term` (case-insensitive) and scroll to it."""
        if term != self._search:
            self._search, self.last_match = term, None
        pattern = re.compile(re.escape(term), re.IGNORECASE) if term else None
        for pane in self.panes.values():
            pane.set_search(pattern)
        if pattern is None:
            return None
        panes = [(slot, p) for slot, p in sorted(self.panes.items()) if p.display]
        hits = [
            (slot, i)
            for slot, pane in panes
            for i, line in enumerate(pane.lines)
            if pattern.search(line)
        ]
        if not hits:
            self.notify(f"No line contains {term!r}.", severity="warning")
            return None
        later = [h for h in hits if h > (self.last_match or (-1, -1))]
        slot, line = later[0] if later else hits[0]
        pane = self.panes[slot]
        pane.scroll_to(y=max(0, line - pane.size.height // 2), animate=False)
        self.last_match = (slot, line)
        self.notify(f"#{slot} line {line + 1}: match {hits.index((slot, line)) + 1}/{len(hits)}")
        return slot, line

    def action_copy(self) -> None:
        focused = self.focused
        text = what = ""
        if isinstance(focused, ChildPane):
            text, what = focused.text, f"pane #{focused.slot}"
        elif isinstance(focused, InvariantRow):
            text, what = f"{focused.invariant}: {focused.message}", focused.invariant
        elif self.shown.block is not None and self.shown.block.break_messages:
            text, what = "\n".join(self.shown.block.break_messages), "the breaks"
        if not text:
            self.notify("Focus a pane or an invariant row to copy it.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({len(text.splitlines())} lines).")
