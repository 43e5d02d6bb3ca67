"""The swimlane timeline of one block: a lane a child, phases and file events in time order."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from explorer.tui.model import BlockView

_KIND_STYLES = {
    "start": "green",
    "checkpoint": "cyan",
    "exit": "bold",
    "file": "magenta",
    "snapshot": "dim",
    "decision": "yellow",
    "break": "bold red",
}


def timeline_table(block: BlockView) -> Table:
    lanes = sorted(block.children)
    table = Table(box=None, expand=True, header_style="bold", pad_edge=False)
    table.add_column("t (s)", justify="right", no_wrap=True, style="dim")
    for slot in lanes:
        table.add_column(f"#{slot} {block.children[slot].label}", overflow="fold", ratio=2)
    table.add_column("files · state · breaks", overflow="fold", ratio=3)
    running: set[int] = set()
    for entry in block.timeline:
        if entry.kind == "start" and entry.lane is not None:
            running.add(entry.lane)
        style = _KIND_STYLES.get(entry.kind, "")
        if entry.kind == "break" and not entry.text.startswith("broken"):
            style = "bold yellow"  # tolerated or healed: explained, not damage
        cells: list[Text] = []
        for slot in lanes:
            if entry.lane == slot:
                glyph = {"start": "┬ ", "exit": "┴ ", "decision": "⚑ "}.get(entry.kind, "● ")
                cells.append(Text(glyph + entry.text, style=style))
            elif slot in running:
                cells.append(Text("│", style="dim"))
            else:
                cells.append(Text(""))
        side = Text()
        if entry.lane is None:
            glyph = "✗ " if entry.kind == "break" else ""
            side = Text(glyph + entry.text, style=style)
        table.add_row(
            Text(f"{entry.t - block.started_t:.3f}"),
            *cells,
            side,
            style="on #3a0000" if entry.kind == "break" and entry.text.startswith("broken") else "",
        )
        if entry.kind == "exit" and entry.lane is not None:
            running.discard(entry.lane)
    return table


class TimelineScreen(Screen[None]):
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
        with VerticalScroll(id="timeline-scroll"):
            yield Static(timeline_table(self.block), id="timeline")
        yield Footer()

    def catch_up(self) -> None:
        """Live, the block may still be running: show what it gained since the last frame."""
        if self._state() == self.shown:
            return
        self.shown = self._state()
        self.query_one("#timeline-title", Static).update(self._title())
        self.query_one("#timeline", Static).update(timeline_table(self.block))
