"""A scrolling view that draws only its visible rows, from rows it does not own.

The child panes, the timeline and the state feed show sequences the view model already
keeps. Copying them into widgets (as `Log` does) costs a layout pass of the whole screen
for each write (its virtual size is a layout reactive) and a re-render of every line.
Here a view is told "your rows changed" once a frame (`sync`): it sets its virtual size
without asking for a layout (its own size never depends on its rows) and repaints only
the rows on screen that changed, each rendered once (cached by the key its row gives).
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget

_CONTROL = re.compile("[\u0000-\u0008\u000b-\u001f\u007f]")


def printable(line: str) -> str:
    """A line as a terminal may show it: tabs expanded, control characters replaced."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", line.expandtabs())


class LineView(ScrollView, can_focus=True):
    """Subclasses say how many rows there are, what each one shows, and its cache key."""

    DEFAULT_CSS = """
    LineView {
        background: $surface;
        color: $text;
        overflow-x: hidden;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    follow_end = True  # stay at the bottom while rows arrive, unless scrolled away

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._strips: LRUCache[Hashable, Strip] = LRUCache(1024)
        self.strips_built = 0  # rendered rows, ever: what a frame costs, for tests
        self._drawn_rows = 0  # rows with content when last synced: a reset must blank them

    # --- what a subclass provides ---------------------------------------------------

    def row_count(self) -> int:
        raise NotImplementedError

    def row_key(self, row: int) -> Hashable:
        """What identifies a row's rendering (a row keeps its key while its text stays)."""
        return row

    def row_text(self, row: int, width: int) -> Text:
        raise NotImplementedError

    # --- drawing -------------------------------------------------------------------

    def sync(self, shifted: int = 0, first_changed: int = 0) -> None:
        """The rows from `first_changed` on changed: size the scroll range, repaint them.

        `shifted`: rows dropped from the top since the last sync (a capped source), so a
        reader scrolled up keeps the same rows in view.
        """
        following = self.follow_end and self.is_vertical_scroll_end
        rows = self.row_count()
        self._size_rows(rows)
        target = self.max_scroll_y if following else max(0, self.scroll_y - shifted)
        if following or shifted:
            self.scroll_to(y=target, animate=False)
        drawn, self._drawn_rows = self._drawn_rows, rows
        if round(target) != round(self.scroll_y):
            return  # the scroll repaints every row
        top = round(self.scroll_y)
        self._repaint_rows(first_changed - top, max(rows, drawn) - top)

    def _repaint_rows(self, start: int, end: int) -> None:
        """Rows `start` to `end` of the window (not of the source) need drawing again."""
        region = self.scrollable_content_region
        start, end = max(start, 0), min(end, region.height)
        if end > start:
            self.refresh(Region(0, start, region.width, end - start))

    def _size_rows(self, rows: int) -> None:
        """The scroll range is `rows` long. Not `self.virtual_size = ...`: that is a layout
        reactive, and a layout pass of the whole screen for a size that changes nothing
        around this widget. The bar is redrawn only if its look can change."""
        before = self.virtual_size.height
        if rows == before:
            return
        size = Size(0, rows)
        self.set_reactive(Widget.virtual_size, size)
        if max(rows, before) > self.scrollable_content_region.height:
            self._scroll_update(size)
        else:  # all rows fit, before and after: a full bar either way
            self.vertical_scrollbar.set_reactive(ScrollBar.window_virtual_size, rows)

    def reset(self) -> None:
        """Other rows altogether: empty, at the top, nothing cached; the next sync
        repaints the rows that showed the old ones."""
        self._strips.clear()
        self._size_rows(0)
        self.scroll_to(y=0, animate=False)

    def forget_rendering(self) -> None:
        """Rows keep their keys but look different (a search term, a style): redraw."""
        self._strips.clear()
        self.refresh()

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # A layout pass gives a scroll view its window as its virtual size, which is never
        # its rows: each pass would then redraw the scrollbar of every view on screen.
        # The rows are `sync`'s business; only a new size concerns the bar here.
        return super()._size_updated(size, self.virtual_size, container_size, layout)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_resize(self) -> None:
        self._strips.clear()  # rows may be laid out for the width (the timeline's are)

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if row >= self.row_count() or width <= 0:
            return Strip.blank(max(width, 0), style)
        key = self.row_key(row)
        strip = self._strips.get(key)
        if strip is None:
            text = self.row_text(row, width)
            text.stylize_before(style)
            strip = Strip(text.render(self.app.console), cell_len(text.plain))
            self._strips[key] = strip
            self.strips_built += 1
        return strip.crop_extend(0, width, style)
