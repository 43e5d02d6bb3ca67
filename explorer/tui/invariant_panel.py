"""One row an invariant: its `when`, its status (coloured by class) and the latest break."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widget import Widget

from explorer.tui.model import InvariantView

STATUS_CLASSES = {
    "pending": "-pending",
    "ok": "-ok",
    "in flux": "-in-flux",
    "tolerated": "-tolerated",
    "healed": "-healed",
    "broken": "-broken",
}
_GLYPHS = {
    "pending": "·",
    "ok": "✓",
    "in flux": "~",
    "tolerated": "≈",
    "healed": "✚",
    "broken": "✗",
}


class InvariantRow(Widget, can_focus=True):
    """One line (two with a break's message), never wrapped: cut to the row's width."""

    DEFAULT_CSS = "InvariantRow { height: auto; }"

    def __init__(self, name: str) -> None:
        super().__init__(classes="invariant-row")
        self.invariant = name
        self.status = "pending"
        self.message = ""
        self.view: InvariantView | None = None
        self._breaks = 0

    def show(self, view: InvariantView) -> None:
        shown = (self.status, self.message, self._breaks)
        if self.view is not None and (view.status, view.message, len(view.breaks)) == shown:
            return
        lines_before = 1 + bool(self.message) if self.view is not None else 0
        self.view, self._breaks = view, len(view.breaks)
        self.status, self.message = view.status, view.message
        self.set_classes(f"invariant-row {STATUS_CLASSES[view.status]}")
        self.tooltip = "\n".join(b.message for b in view.breaks) or None
        # A layout pass repaints the whole screen: ask for one only when the height changes.
        self.refresh(layout=lines_before != 1 + bool(self.message))

    def render(self) -> Text:
        view = self.view
        if view is None:
            return Text("")
        width = self.content_size.width or 80
        # glyph, name, `when` (when there is room), status: the name gives way first.
        when = f" {view.when:<9}" if width >= 52 else ""
        name_width = max(8, min(28, width - 2 - len(when) - 10))
        name = view.name if len(view.name) <= name_width else view.name[: name_width - 1] + "…"
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(f"{_GLYPHS[view.status]} ", style="bold")
        text.append(f"{name:<{name_width}}", style="bold")
        text.append(f"{when} {view.status:<9}")
        if view.message:
            extra = f" (+{len(view.breaks) - 1})" if len(view.breaks) > 1 else ""
            text.append(f"\n  {view.message}{extra}")
        return text


class InvariantPanel(Vertical):
    def __init__(self) -> None:
        super().__init__(id="invariants")
        self.border_title = "Invariants"

    def rows(self) -> dict[str, InvariantRow]:
        return {row.invariant: row for row in self.query(InvariantRow)}

    def show(self, invariants: dict[str, InvariantView]) -> None:
        rows = self.rows()
        if list(rows) != list(invariants):
            self.remove_children()
            rows = {name: InvariantRow(name) for name in invariants}
            self.mount_all(rows.values())
        for name, view in invariants.items():
            rows[name].show(view)
