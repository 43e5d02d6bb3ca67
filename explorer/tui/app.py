"""The Textual app on a live run or a recorded trace, and the CLI's two entry points.

Live: the runner runs in a process of its own (`explorer.serve.RunnerProcess`),
whose event stream the app reads on its own loop; `receive` gets every event and
only queues it. Once a frame the app folds the queue into its `RunView` and each
pane writes its new lines in one batch, so a child printing thousands of lines a
second costs a few widget calls per frame, not one per line.

Replay: the same screen over a `History` filled from the trace; the cursor
(`Position`) says which event of which block the screen shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import RenderableType
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker

from explorer.events import Event, RunFinished, RunStarted
from explorer.tui.child_pane import ChildPane
from explorer.tui.find_bar import FindBar, FindMode
from explorer.tui.help_screen import HelpScreen
from explorer.tui.history import History, Position
from explorer.tui.invariant_panel import InvariantPanel, InvariantRow
from explorer.tui.iteration_list import IterationList
from explorer.tui.messages import EventsQueued, IterationChosen, RunEnded, StateUpdated
from explorer.tui.model import BlockView, IterationSummary, RunView
from explorer.tui.run_header import RunHeader
from explorer.tui.state_pane import StatePane
from explorer.tui.timeline import TimelineScreen

if TYPE_CHECKING:
    from explorer.runner import RunOptions
    from explorer.scenario import Scenario

FRAME_SECONDS = 1 / 20  # output panes are redrawn at most this often
# The children being watched need the CPU more than the screen does: frames are spaced
# so that the app's thread takes about this share of a core (fewer frames when they are
# dear), but never further apart than SLOWEST_FRAME_SECONDS, or a fast run would only
# ever show the first line of each iteration.
DRAW_SHARE = 0.25
SLOWEST_FRAME_SECONDS = 0.5
APP_NICENESS = 10
QUIT_GRACE_SECONDS = 15.0
EXIT_INTERRUPTED = 130
EXIT_HANGUP = 129


_MAIN_SCREEN_ACTIONS = {
    "toggle_pause",
    "one_more",
    "step_decision",
    "release_decisions",
    "next_iteration",
    "previous_iteration",
    "next_break",
    "previous_break",
    "step",
    "block_edge",
    "follow",
    "find",
    "copy",
}


class Steering(Protocol):
    """How the app steers a live run: `RunControl`, or the runner's process."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def one_more(self) -> None: ...

    def hold_decisions(self) -> None: ...

    def one_decision(self) -> None: ...

    def release_decisions(self) -> None: ...


class RunnerLike(Protocol):
    """What the app needs of the runner: `explorer.serve.RunnerProcess`, a fake in tests."""

    def subscribe(self, consumer: Any) -> None: ...

    async def run(self) -> RunFinished: ...

    def interrupt(self) -> None: ...


class ExplorerApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "race-explorer"
    AUTO_FOCUS = "#iterations"
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause"),
        Binding("n", "one_more", "One more"),
        Binding("s", "step_decision", "Decide"),
        Binding("g", "release_decisions", "Go on"),
        Binding("n", "next_iteration", "Next it."),
        Binding("p", "previous_iteration", "Prev it.", show=False),
        Binding("right_square_bracket", "next_break", "Next break", key_display="]"),
        Binding("left_square_bracket", "previous_break", "Prev break", key_display="[", show=False),
        Binding("full_stop", "step(1)", "Step", key_display="."),
        Binding("comma", "step(-1)", "Back", key_display=",", show=False),
        Binding("greater_than_sign", "block_edge(1)", "End of it.", show=False),
        Binding("less_than_sign", "block_edge(-1)", "Start of it.", show=False),
        Binding("l", "follow", "Follow", show=False),
        Binding("slash", "find('search')", "Search", key_display="/"),
        Binding("f", "find('filter')", "Filter"),
        Binding("t", "timeline", "Timeline"),
        Binding("c", "copy", "Copy"),
        Binding("ctrl+t", "change_theme", "Theme", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        *,
        runner: RunnerLike | None = None,
        control: Steering | None = None,
        history: History | None = None,
        notice: str | None = None,
        source: str = "",
        start: Position | None = None,
        handle_signals: bool = False,
        yield_cpu: bool = False,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.control = control
        self.history = history if history is not None else History()
        self.notice = notice
        self.source = source
        self.start = start
        self.view = RunView()  # the live fold; in replay, unused
        self.position: Position | None = None  # None: following the live run
        self.shown = self.view
        self.panes: dict[int, ChildPane] = {}
        self.run_result: RunFinished | None = None
        self.run_error: BaseException | None = None
        self.last_match: tuple[int, int] | None = None  # (child slot, line) of the last hit
        self._pending: deque[Event] = deque()
        self._flush_scheduled = False
        self._last_flush = 0.0
        self._flush_cpu = 0.0  # the app thread's CPU time when the last frame began
        self._cycle_cpu = 0.0  # and what the frame before it cost, drawing and all
        self._run_worker: Worker[None] | None = None
        self._run_ended = asyncio.Event()
        self.paused = False  # what the user asked
        self.stepping = False  # holding the scheduling decisions, one at a time
        self._terminating = False
        self.handle_signals = handle_signals
        self.yield_cpu = yield_cpu
        self._search = ""
        # Other screens (timeline, help) may be on top while events arrive: keep the
        # main screen's widgets at hand instead of querying the current screen.
        self.header = RunHeader()
        self.iteration_list = IterationList()
        self.invariant_panel = InvariantPanel()
        self.state_pane = StatePane()
        self.find_bar = FindBar()
        self.pane_grid = Grid(id="panes")

    @property
    def live(self) -> bool:
        return self.runner is not None

    # --- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            yield self.iteration_list
            yield self.pane_grid
            with Vertical(id="side"):
                yield self.invariant_panel
                yield self.state_pane
        yield self.find_bar
        yield Footer()

    async def on_mount(self) -> None:
        if self.notice:
            self.notify(self.notice, title="Trace", severity="warning", timeout=10)
        if self.runner is not None:
            self._flush_cpu = time.thread_time()  # start-up is not a frame's cost
            loop = asyncio.get_running_loop()
            self._run_ended = asyncio.Event()
            self.runner.subscribe(self.receive)
            if self.handle_signals:
                for sig in (signal.SIGTERM, signal.SIGHUP):
                    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                        loop.add_signal_handler(sig, self._on_terminate, sig)
            self._run_worker = self.run_worker(
                self._drive(), name="runner", group="runner", exit_on_error=False
            )
            await self._render_view(self.view, None)
        else:
            await self.goto(self.start or self.history.end())

    # --- the live stream -------------------------------------------------------

    def receive(self, event: Event) -> None:
        """The runner's consumer: queue the event; the frame timer does the rest."""
        if self.yield_cpu and isinstance(event, RunStarted):
            # The runner's process has started, at the priority it had: from now on
            # the screen yields the CPU to it and to the children it watches.
            self.yield_cpu = False
            os.nice(APP_NICENESS)
        self._pending.append(event)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.post_message(EventsQueued())

    def on_events_queued(self, _: EventsQueued) -> None:
        spacing = min(max(FRAME_SECONDS, self._cycle_cpu / DRAW_SHARE), SLOWEST_FRAME_SECONDS)
        wait = self._last_flush + spacing - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self.flush)
        else:
            self.call_later(self.flush)

    async def flush(self) -> None:
        """Fold everything queued since the last frame and update the screen once."""
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        # All the app's thread did since the last frame began (that frame's drawing, the
        # layout passes it caused, the events it read) paces the next.
        cpu = time.thread_time()
        self._cycle_cpu, self._flush_cpu = cpu - self._flush_cpu, cpu
        pending = self._pending
        while pending:
            event = pending.popleft()
            self.history.record(event)
            self.view.apply(event)
        changes = self.view.take_changes()
        if not changes:
            return
        if isinstance(self.screen, TimelineScreen):
            self.screen.catch_up()
        if self.position is None:
            await self._render_view(self.view, changes)
        else:
            self._render_chrome(self.shown)

    async def _drive(self) -> None:
        """Worker: await the run; the app stays open to show how it ended."""
        runner = self.runner
        assert runner is not None
        try:
            self.run_result = await runner.run()
        except Exception as exc:
            self.run_error = exc
        finally:
            self._run_ended.set()
            self.post_message(RunEnded())

    def _interrupt_runner(self) -> None:
        if self.runner is not None:
            self.runner.interrupt()

    def _on_terminate(self, sig: signal.Signals) -> None:
        """SIGTERM, or SIGHUP (the terminal went away): stop the run, then leave."""
        if sig == signal.SIGHUP:
            # Nothing reads the terminal any more: Textual's writer thread dies on its
            # first write and the app would block on a later frame, never to exit. The
            # runner's process sees its stdin close, kills the children and closes the
            # trace by itself.
            os._exit(EXIT_HANGUP)
        elif self._run_ended.is_set():
            self.exit(self.exit_code)
        else:
            self._terminating = True  # leave when the run ends, however it ends
            self._interrupt_runner()

    async def on_run_ended(self, _: RunEnded) -> None:
        await self.flush()
        result, error = self.run_result, self.run_error
        if self._terminating or (result is not None and result.interrupted):
            # q, or a SIGTERM: the children are gone, so is the app.
            self.exit(self.exit_code)
            return
        if error is not None:
            self.notify(f"The run failed: {error}", severity="error", timeout=30)
        elif result is not None:
            self.notify(
                f"The run finished: exit code {result.exit_code}. Browse the iterations; q quits.",
                title="Run over",
                timeout=10,
            )
        self._render_chrome(self.shown)
        self.refresh_bindings()

    # --- rendering -------------------------------------------------------------

    def _status(self) -> str:
        if not self.live:
            return "▶ replay"
        if self.run_result is not None:
            word = "interrupted" if self.run_result.interrupted else "finished"
            return f"■ {word} · exit {self.run_result.exit_code}"
        if self.run_error is not None:
            return "✗ run failed"
        state = "❚❚ paused" if self.paused else "● running"
        return state + (" · stepping decisions (s: one, g: go on)" if self.stepping else "")

    def _where(self, view: RunView) -> str:
        block = view.block
        if self.position is None or block is None:
            return self.source
        total = self.history.last_index(block.iteration) + 1
        event = self.history.events(block.iteration)[self.position.index]
        where = f"{block.block} {block.iteration} · event {self.position.index + 1}/{total}"
        return f"{where} {event.kind}" + (" · l: follow live" if self.live else "")

    def _summaries(self, view: RunView) -> dict[int, IterationSummary]:
        # Replay lists the whole run, for navigation; live lists what has happened.
        return self.view.summaries if self.live else self.history.summaries()

    def _render_chrome(self, view: RunView) -> None:
        header_view = self.view if self.live else view
        if not self.live:
            header_view = RunView()
            if self.history.run_started is not None:
                header_view.apply(self.history.run_started)
            header_view.summaries = self.history.summaries()
            if self.history.run_finished is not None:
                header_view.apply(self.history.run_finished)
        self.header.show(header_view, self._status(), self._where(view))
        current = view.block.iteration if view.block else None
        self.iteration_list.show(self._summaries(view), current)

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
        shown = [slot for slot in self.panes if slot in block.children]
        for slot, pane in self.panes.items():
            if pane.display != (slot in block.children):
                pane.display = slot in block.children
        columns = 1 if len(shown) == 1 else 2
        if grid.styles.grid_size_columns != columns:
            grid.styles.grid_size_columns = columns
        for slot in shown:
            pane = self.panes[slot]
            if rebuild:
                pane.view = None
            pane.show(block.children[slot])

    def _filter_text(self) -> str:
        bar = self.find_bar
        return bar.value if bar.mode == "filter" else ""

    # --- navigation --------------------------------------------------------------

    async def goto(self, position: Position | None) -> None:
        """Show the screen as of `position` (None: follow the live run)."""
        if position is None and not self.live:
            position = self.history.end()
            if position is None:
                self._render_chrome(self.view)
                return
        self.position = position
        self.shown = self.view if position is None else self.history.view_at(position)
        await self._render_view(self.shown, None)
        self.refresh_bindings()

    def _here(self) -> Position | None:
        return self.position if self.position is not None else self.history.end()

    async def action_step(self, delta: int) -> None:
        here = self._here()
        target = self.history.step(here, delta) if here else None
        if here is None or target is None:
            if delta > 0 and here is not None:
                self.notify("That was the last recorded event.")
            return
        if (
            delta == 1
            and self.position == here
            and target.iteration == here.iteration
            and self.shown is not self.view
        ):
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

    async def _goto_block(self, direction: int) -> None:
        here = self._here()
        target = self.history.other_block(here, direction) if here else None
        if target is not None:
            await self.goto(target)

    async def action_next_iteration(self) -> None:
        await self._goto_block(1)

    async def action_previous_iteration(self) -> None:
        await self._goto_block(-1)

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
        if self.live and self.view.block is not None and n == self.view.block.iteration:
            await self.goto(None)
        elif n in self.history.iterations:
            await self.goto(Position(n, self.history.last_index(n)))

    # --- live control --------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        if self.control is None:
            return
        self.paused = paused = not self.paused
        if paused:
            self.control.pause()
        else:
            self.control.resume()
        self.notify(
            "Paused: the current iteration finishes, no new one starts. n: one more."
            if paused
            else "Resumed."
        )
        self._render_chrome(self.shown)
        self.refresh_bindings()

    def action_one_more(self) -> None:
        if self.control is not None:
            self.control.one_more()
            self.notify("One more iteration.")

    def action_step_decision(self) -> None:
        if self.control is None:
            return
        if self.stepping:
            self.control.one_decision()
            return
        self.stepping = True
        self.control.hold_decisions()
        self.notify("Decisions held: s lets one through, g goes on.")
        self._render_chrome(self.shown)
        self.refresh_bindings()

    def action_release_decisions(self) -> None:
        if self.control is not None and self.stepping:
            self.stepping = False
            self.control.release_decisions()
            self._render_chrome(self.shown)
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) > 1 and action in _MAIN_SCREEN_ACTIONS:
            return False
        running = self.live and self.run_result is None and self.run_error is None
        if action in ("toggle_pause", "one_more", "step_decision", "release_decisions"):
            if not running:
                return False
            if action == "one_more":
                return self.paused
            if action == "release_decisions":
                return self.stepping
            if action == "step_decision":
                # The os strategy makes no decisions to step (help says so).
                started = self.view.started
                return started is not None and started.strategy != "os"
        if action == "follow":
            return self.live and self.position is not None
        if action == "next_iteration":
            return not running or not self.paused
        return True

    # --- search, filter, copy --------------------------------------------------------

    def action_find(self, mode: FindMode) -> None:
        bar = self.find_bar
        bar.open(mode, self._search if mode == "search" else self._filter_text())

    def on_input_changed(self, event: Input.Changed) -> None:
        bar = self.find_bar
        if event.input is bar and bar.mode == "filter":
            for pane in self.panes.values():
                pane.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        bar = self.find_bar
        if event.input is not bar:
            return
        if bar.mode == "search":
            self.search(event.value)
        else:
            bar.action_close()

    def on_find_bar_closed(self, _: FindBar.Closed) -> None:
        if self.panes:
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
        start_slot, start_line = self.last_match or (-1, -1)
        hits = [
            (slot, i)
            for slot, pane in panes
            for i, line in enumerate(pane.lines)
            if pattern.search(line)
        ]
        if not hits:
            self.notify(f"No line contains {term!r}.", severity="warning")
            return None
        later = [h for h in hits if h > (start_slot, start_line)]
        slot, line = later[0] if later else hits[0]
        pane = self.panes[slot]
        pane.scroll_to(y=max(0, line - pane.size.height // 2), animate=False)
        self.last_match = (slot, line)
        self.notify(f"#{slot} line {line + 1}: match {hits.index((slot, line)) + 1}/{len(hits)}")
        return slot, line

    def action_copy(self) -> None:
        focused = self.focused
        text = ""
        what = ""
        if isinstance(focused, ChildPane):
            text, what = focused.text, f"pane #{focused.slot}"
        elif isinstance(focused, InvariantRow):
            text, what = f"{focused.invariant}: {focused.message}", focused.invariant
        elif self.shown.block is not None and self.shown.block.break_messages:
            text, what = "\n".join(self.shown.block.break_messages), "the breaks"
        if not text:
            self.notify("Focus a pane or an invariant row to copy it.", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({len(text.splitlines())} lines).")

    # --- screens and commands --------------------------------------------------------

    def action_timeline(self) -> None:
        if isinstance(self.screen, TimelineScreen):
            self.pop_screen()
            return
        if self.shown.block is None:
            self.notify("No iteration to show yet.")
            return
        self.push_screen(TimelineScreen(self.shown.block))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            (
                "Pause or resume",
                "Finish this iteration, start no new one",
                "toggle_pause",
            ),
            ("One more iteration", "While paused, run exactly one more", "one_more"),
            ("Step one decision", "Hold scheduling decisions, let one through", "step_decision"),
            ("Go on", "Stop stepping scheduling decisions", "release_decisions"),
            ("Next break", "Jump to the next break", "next_break"),
            ("Previous break", "Jump to the previous break", "previous_break"),
            ("Next iteration", "Show the next iteration", "next_iteration"),
            ("Previous iteration", "Show the previous iteration", "previous_iteration"),
            ("Follow the live run", "Back to the running iteration", "follow"),
            ("Timeline", "Swimlanes of the shown iteration", "timeline"),
            ("Search panes", "Find a line in the child panes", "find('search')"),
            ("Filter lines", "Show only lines containing a string", "find('filter')"),
            ("Copy", "Copy the focused pane or break message", "copy"),
            ("Help", "Keys and what the screen shows", "help"),
        ]
        for title, help_text, action in commands:
            name = action.split("(")[0]
            if self.check_action(name, ()) is False:
                continue

            async def run(action: str = action) -> None:
                await self.run_action(action)

            yield SystemCommand(title, help_text, run)

    # --- quitting ----------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.runner is not None and not self._run_ended.is_set():
            self.notify("Stopping the children…")
            self._interrupt_runner()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._run_ended.wait(), QUIT_GRACE_SECONDS)
        self.exit(self.exit_code)

    def exit(
        self,
        result: int | None = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        # However the app ends (q, ctrl+q, an error), the children must not outlive it.
        if self.runner is not None and not self._run_ended.is_set():
            self._interrupt_runner()
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        if self.runner is not None and not self._run_ended.is_set():
            self._interrupt_runner()

    @property
    def exit_code(self) -> int:
        if self.run_result is not None:
            return self.run_result.exit_code
        if self.run_error is not None:
            return 2
        if self.live:
            return EXIT_INTERRUPTED
        return 0


# --- entry points (the CLI imports these lazily) -------------------------------------------


def run_live(scenario: Scenario, options: RunOptions) -> int:
    from explorer.serve import RunnerProcess

    runner = RunnerProcess(scenario, options)
    app = ExplorerApp(
        runner=runner,
        control=runner,
        source=str(runner.trace_path),
        handle_signals=True,
        yield_cpu=True,
    )
    code = app.run()
    return code if code is not None else EXIT_INTERRUPTED


def load_replay(trace_path: Path, iteration: int | None = None) -> ExplorerApp:
    from explorer.trace import TraceReader

    reader = TraceReader(trace_path)
    history = History.from_events(reader.events(), output_cap=None)
    notice = reader.warning
    if reader.warning and history.end() is not None:
        notice = f"{reader.warning}. Showing the last good event."
    start = None
    if iteration is not None and iteration in history.iterations:
        start = Position(iteration, history.last_index(iteration))
    return ExplorerApp(history=history, notice=notice, source=trace_path.name, start=start)


def run_replay(trace_path: Path, iteration: int | None = None) -> int:
    app = load_replay(Path(trace_path), iteration)
    code = app.run()
    return code if code is not None else 0
