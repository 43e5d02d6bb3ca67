"""One child's output: a Log fed in batches, coloured by each line's prefix."""

from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

from explorer.tui.model import CHECKPOINT, ERR, EXIT, FILE, NOTE, PANE_LINE_CAP, ChildView

_PREFIX_STYLES = {
    ERR: "bold red",
    CHECKPOINT: "cyan",
    FILE: "magenta",
    EXIT: "bold",
    NOTE: "dim",
}


class PaneHighlighter(Highlighter):
    """Styles a pane line by its two-character prefix, and the current search term."""

    def __init__(self) -> None:
        self.search: re.Pattern[str] | None = None

    def highlight(self, text: Text) -> None:
        style = _PREFIX_STYLES.get(text.plain[:2])
        if style:
            if text.plain.startswith(ERR):
                text.stylize("reverse bold red", 0, 1)
                text.stylize("red", 2)
            else:
                text.stylize(style)
        if self.search is not None:
            text.highlight_regex(self.search, "black on yellow")


class ChildPane(Log):
    """Follows the end unless the user scrolled up (Log's own rule)."""

    def __init__(self, slot: int) -> None:
        super().__init__(highlight=True, max_lines=PANE_LINE_CAP, id=f"child-{slot}")
        self.slot = slot
        self.highlighter = PaneHighlighter()
        self.view: ChildView | None = None
        self.seen_total = 0
        self.filter = ""

    def _keep(self, lines: list[str]) -> list[str]:
        if not self.filter:
            return lines
        needle = self.filter.lower()
        return [line for line in lines if needle in line.lower()]

    def show(self, view: ChildView) -> None:
        """Catch up with `view`: append what is new, or rebuild when it is another child."""
        subtitle = view.state + (f" · filter: {self.filter}" if self.filter else "")
        if self.border_title != view.heading:
            self.border_title = view.heading
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
        if view is not self.view:
            self.view = view
            self.seen_total = 0
            self.clear()
            self.refresh()
        reset, lines = view.lines_since(self.seen_total)
        self.seen_total = view.total_lines
        if reset:
            self.clear()
            self.refresh()
        if lines:
            self.write_lines(self._keep(lines))

    def rebuild(self) -> None:
        if self.view is not None:
            view, self.view = self.view, None
            self.show(view)

    def set_filter(self, text: str) -> None:
        if text != self.filter:
            self.filter = text
            self.rebuild()
            if self.view is None:
                self.border_subtitle = f"filter: {text}" if text else ""

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        assert isinstance(self.highlighter, PaneHighlighter)
        self.highlighter.search = pattern
        self.refresh()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
