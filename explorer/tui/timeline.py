"""The swimlane timeline of one block: a lane a child, then files, state and breaks.

Drawn a row at a time (only the rows on screen), from `timeline_rows`: the file
changes after one child's step are one row (enter or a click expands it), paths are
shortened, the first break is marked where it appeared.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from explorer.tui.line_view import LineView, printable
from explorer.tui.model import BlockView
from explorer.tui.shorten import shorten_path
from explorer.tui.timeline_rows import TimelineRow, timeline_rows

_KIND_STYLES = {
    "start": "green",
    "checkpoint": "cyan",
    "exit": "bold",
    "file": "magenta",
    "snapshot": "dim",
    "decision": "yellow",
    "break": "bold red",
}
_LANE_GLYPHS = {"start": "┬ ", "exit": "┴ ", "decision": "⚑ "}
TIME_WIDTH = 8


def _cell(text: str, width: int, style: str = "") -> Text:
    if width <= 0:
        return Text("")
    text = printable(text)
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return Text(text.ljust(width), style=style)


def _side_text(row: TimelineRow) -> str:
    entry = row.entry
    if row.group is not None:
        return ("▾ " if row.expanded else "▸ ") + entry.text
    if entry.kind == "file":
        change, _, path = entry.text.partition(" ")
        text = f"{change} {shorten_path(path, 3)}"
    else:
        text = entry.text
    if entry.kind == "break":
        text = "✗ " + text + ("  ◀ first break" if row.first_break else "")
    return ("   " if row.member else "") + text


class TimelineView(LineView):
    """The rows of one block's timeline, with a cursor row for expanding groups."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("enter", "expand", "Expand", key_display="enter"),
    ]
    follow_end = False

    def __init__(self, block: BlockView) -> None:
        super().__init__(id="timeline")
        self.block = block
        self.expanded: set[int] = set()
        self.rows: list[TimelineRow] = []
        self.cursor = 0
        self.lanes: list[int] = []

    def rebuild(self) -> None:
        self.rows = timeline_rows(self.block, self.expanded)
        self.lanes = sorted(self.block.children)
        self.cursor = min(self.cursor, max(0, len(self.rows) - 1))
        self._strips.clear()
        self.sync()

    def on_mount(self) -> None:
        self.rebuild()

    def row_count(self) -> int:
        return len(self.rows) + 1  # the heading

    def row_key(self, row: int) -> Hashable:
        return (row, row - 1 == self.cursor)

    def _widths(self, width: int) -> tuple[int, int]:
        lanes = max(1, len(self.lanes))
        side = max(24, (width - TIME_WIDTH) * 2 // 5)
        return max(6, (width - TIME_WIDTH - side) // lanes), side

    def row_text(self, row: int, width: int) -> Text:
        lane_width, side_width = self._widths(width)
        if row == 0:
            text = Text(style="bold")
            text.append(_cell("t (s)", TIME_WIDTH - 1).plain.rjust(TIME_WIDTH - 1) + " ")
            for slot in self.lanes:
                text.append(_cell(f"#{slot} {self.block.children[slot].label}", lane_width))
            text.append(_cell("files · state · breaks", side_width))
            return text
        timeline_row = self.rows[row - 1]
        entry = timeline_row.entry
        style = _KIND_STYLES.get(entry.kind, "")
        if entry.kind == "break" and not entry.text.startswith("broken"):
            style = "bold yellow"  # in flux, tolerated or healed: explained, not damage
        text = Text(f"{entry.t - self.block.started_t:{TIME_WIDTH - 1}.3f} ", style="dim")
        for slot in self.lanes:
            if entry.lane == slot and not timeline_row.member:
                glyph = _LANE_GLYPHS.get(entry.kind, "● ")
                text.append(_cell(glyph + entry.text, lane_width, style))
            elif slot in timeline_row.running:
                text.append(_cell("│", lane_width, "dim"))
            else:
                text.append(_cell("", lane_width))
        if entry.lane is None or timeline_row.member:
            text.append(_cell(_side_text(timeline_row), side_width, style))
        if entry.kind == "break" and entry.text.startswith("broken"):
            text.stylize("on #3a0000")
        if row - 1 == self.cursor and self.has_focus:
            text.stylize("reverse")
        return text

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
        row = self.cursor + 1
        if row < self.scroll_y + 1:
            self.scroll_to(y=row - 1, animate=False)
        elif row >= self.scroll_y + self.scrollable_content_region.height:
            self.scroll_to(y=row - self.scrollable_content_region.height + 1, animate=False)
        self.forget_rendering()

    def action_expand(self) -> None:
        if not self.rows:
            return
        row = self.rows[self.cursor]
        if row.group is not None:
            self.expanded ^= {row.group}
            self.rebuild()

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self.rows):
            self.cursor = row
            self.action_expand()
            self.forget_rendering()

    def on_focus(self) -> None:
        self.forget_rendering()

    def on_blur(self) -> None:
        self.forget_rendering()


class TimelineScreen(Screen[None]):
    AUTO_FOCUS = "#timeline"
    BINDINGS = [
        Binding("t,escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, block: BlockView) -> None:
        super().__init__()
        self.block = block
        self.shown: tuple[int, bool] = (0, False)  # timeline entries shown, and whether done

    def _title(self) -> Text:
        block = self.block
        title = Text(f" Timeline of {block.block} {block.iteration}", style="bold")
        if block.finished is not None:
            title.append(f" · {block.finished.verdict} in {block.finished.duration:.2f}s")
        title.append(f" · {len(block.timeline)} events · {block.decisions} scheduling decisions")
        return title

    def _state(self) -> tuple[int, bool]:
        return len(self.block.timeline), self.block.finished is not None

    def compose(self) -> ComposeResult:
        self.shown = self._state()
        yield Static(self._title(), id="timeline-title")
        yield TimelineView(self.block)
        yield Footer()

    def catch_up(self) -> None:
        """Live, the block may still be running: show what it gained since the last frame."""
        if self._state() == self.shown:
            return
        self.shown = self._state()
        self.query_one("#timeline-title", Static).update(self._title(), layout=False)
        self.query_one(TimelineView).rebuild()
