"""On a narrow terminal: one line naming every child, the shown one marked; click one."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from explorer.tui.model import BlockView

_STATUS_GLYPHS = {"waiting": "·", "running": "●", "exited": "■", "killed": "✗"}


class ChildStrip(Static):
    def __init__(self) -> None:
        super().__init__(id="child-strip")
        self._markup = ""

    def show(self, block: BlockView, current: int | None) -> None:
        parts = []
        for slot, child in sorted(block.children.items()):
            label = escape(f"#{slot} {_STATUS_GLYPHS[child.status]}")
            if slot == current:
                parts.append(f"[reverse bold] {label} [/]")
            else:
                parts.append(f"[@click=screen.show_pane({slot})] {label} [/]")
        markup = "│".join(parts)
        if markup != self._markup:
            self._markup = markup
            self.update(markup, layout=False)  # one line, always: no layout pass
