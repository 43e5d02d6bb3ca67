"""One child's output, drawn from the lines its `ChildView` keeps, coloured by prefix.

The pane owns no copy of the lines: a frame tells it how many arrived (`show`), it
sizes its scroll range and repaints the rows on screen. With a filter it keeps the
numbers of the matching lines, scanning each new line once.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Self

from rich.text import Text
from textual.geometry import Region

from explorer.tui.child_view import CHECKPOINT, ERR, EXIT, NOTE, ChildView
from explorer.tui.line_view import LineView, printable

_PREFIX_STYLES = {
    ERR: "bold red",
    CHECKPOINT: "cyan",
    EXIT: "bold",
    NOTE: "dim",
}


def styled_line(line: str, search: re.Pattern[str] | None = None) -> Text:
    """A pane line styled by its two-character prefix, the search term highlighted."""
    text = Text(printable(line), no_wrap=True)
    style = _PREFIX_STYLES.get(line[:2])
    if style:
        if line.startswith(ERR):
            text.stylize("reverse bold red", 0, 1)
            text.stylize("red", 2)
        else:
            text.stylize(style)
    if search is not None:
        text.highlight_regex(search, "black on yellow")
    return text


class ChildPane(LineView):
    """Follows the end unless the user scrolled up."""

    def __init__(self, slot: int) -> None:
        super().__init__(id=f"child-{slot}")
        self.slot = slot
        self.view: ChildView | None = None
        self.seen_total = 0  # the view's `total_lines` when last shown
        self.filter = ""
        self.search: re.Pattern[str] | None = None
        self._matches: list[int] = []  # with a filter: the shown lines' absolute numbers
        self._border_rows_only = False

    # --- rows: the view's kept lines, or the filtered ones -------------------------

    def _first(self) -> int:
        """The absolute number of the oldest line the view still keeps."""
        view = self.view
        return view.total_lines - len(view.lines) if view is not None else 0

    def _absolute(self, row: int) -> int:
        return self._matches[row] if self.filter else self._first() + row

    def row_count(self) -> int:
        if self.view is None:
            return 0
        return len(self._matches) if self.filter else len(self.view.lines)

    def row_key(self, row: int) -> Hashable:
        return self._absolute(row)

    def row_text(self, row: int, width: int) -> Text:
        return styled_line(self.line(row), self.search)

    def line(self, row: int) -> str:
        assert self.view is not None
        return self.view.lines[self._absolute(row) - self._first()]

    @property
    def lines(self) -> list[str]:
        """The lines the pane shows (all kept, or those the filter keeps)."""
        return [self.line(row) for row in range(self.row_count())]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    # --- catching up with the model ------------------------------------------------

    def show(self, view: ChildView) -> None:
        """Catch up with `view`: take in what is new, or start over when it is another."""
        subtitle = view.state + (f" · filter: {self.filter}" if self.filter else "")
        self._retitle(view.heading, subtitle)
        first_before = self._first()
        if view is not self.view:
            self.view, self.seen_total, self._matches = view, 0, []
            self.reset()  # and sync below, even with no lines: the old ones must go
        elif view.total_lines == self.seen_total:
            return
        first = self._first()
        shifted = first - first_before if self.seen_total else 0
        if self.filter:
            needle = self.filter.lower()
            start = max(self.seen_total, first)
            dropped = sum(1 for n in self._matches if n < first)
            del self._matches[:dropped]
            kept = len(self._matches)
            lines = view.lines
            self._matches.extend(
                n for n in range(start, view.total_lines) if needle in lines[n - first].lower()
            )
            shifted = dropped
        else:
            kept = len(view.lines) - (view.total_lines - self.seen_total)
        self.seen_total = view.total_lines
        # Rows before `kept` are drawn already, unless the cap moved every row up.
        self.sync(shifted, first_changed=0 if shifted else max(0, kept))

    def _retitle(self, title: str, subtitle: str) -> None:
        """New border texts repaint the border's two rows, not the whole pane (Textual's
        title setters ask for a full repaint: `refresh` narrows it while this runs)."""
        self._border_rows_only = True
        try:
            if self.border_title != title:
                self.border_title = title
            if self.border_subtitle != subtitle:
                self.border_subtitle = subtitle
        finally:
            self._border_rows_only = False

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        if self._border_rows_only and not regions and not layout and not recompose:
            # Regions are relative to the content: the border rows lie just outside it.
            width, height = self.outer_size
            x, y = self.content_offset
            regions = (Region(-x, -y, width, 1), Region(-x, height - 1 - y, width, 1))
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

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
        if pattern != self.search:
            self.search = pattern
            self.forget_rendering()
