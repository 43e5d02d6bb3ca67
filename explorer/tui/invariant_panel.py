"""One row an invariant: its `when`, its status (coloured by class) and the latest break."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

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


class InvariantRow(Static, can_focus=True):
    def __init__(self, name: str) -> None:
        super().__init__(classes="invariant-row")
        self.invariant = name
        self.status = "pending"
        self.message = ""
        self._breaks = 0
        self._shown = False

    def show(self, view: InvariantView) -> None:
        if (view.status, view.message, len(view.breaks)) == (
            self.status,
            self.message,
            self._breaks,
        ) and self._shown:
            return
        height_changes = not self._shown or view.message != self.message
        self._shown, self._breaks = True, len(view.breaks)
        self.status, self.message = view.status, view.message
        self.set_classes(f"invariant-row {STATUS_CLASSES[view.status]}")
        text = Text()
        text.append(f"{_GLYPHS[view.status]} ", style="bold")
        text.append(f"{view.name:<28}", style="bold")
        text.append(f" {view.when:<9} {view.status:<9}")
        if view.message:
            extra = f" (+{len(view.breaks) - 1})" if len(view.breaks) > 1 else ""
            text.append(f"\n  {view.message}{extra}")
        # A layout pass repaints the whole screen: ask for one only when the height changes.
        self.update(text, layout=height_changes)
        self.tooltip = "\n".join(b.message for b in view.breaks) or None


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
