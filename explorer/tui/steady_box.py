"""Scrolling widgets whose growing content does not cost a layout pass of the screen.

Textual's `virtual_size` reactive asks for a layout pass whenever a widget's
scrollable content changes size, and a layout pass repaints the whole screen. The
output panes and the iteration list grow all the time while a run is live, yet
their boxes are fixed by the grid: here a new virtual size only updates the
widget's own scrollbars and the compositor's view of the visible widgets. Their
CSS keeps the vertical scrollbar always shown, as one that comes and goes would
ask for the layout pass all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.geometry import Size
from textual.reactive import Reactive

if TYPE_CHECKING:
    from textual.widget import Widget

    _Base = Widget
else:
    _Base = object  # a plain mixin: a DOMNode first base would take over the CSS type


class SteadyBox(_Base):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)
        # The compositor crops to the virtual size it last saw: the fast reflow that
        # scrolling uses (visible widgets only) brings it up to date.
        self._refresh_scroll()
