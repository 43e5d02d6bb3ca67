"""The bottom input for `/` search and the line filter."""

from __future__ import annotations

from typing import Literal

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

FindMode = Literal["search", "filter"]


class FindBar(Input):
    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        pass

    def __init__(self) -> None:
        super().__init__(id="find-bar")
        self.mode: FindMode = "search"
        self.display = False
        self.disabled = True  # hidden, it must not take the focus (and the printable keys)

    def open(self, mode: FindMode, value: str = "") -> None:
        self.mode = mode
        self.placeholder = (
            "search the panes (enter: next match, esc: close)"
            if mode == "search"
            else "show only lines containing… (empty: all lines, esc: close)"
        )
        self.border_title = "Search" if mode == "search" else "Filter"
        self.value = value
        self.display = True
        self.disabled = False
        # At once, not after the queued messages (`focus()` waits for them): keys typed
        # right after the one that opened the bar are already queued, and are for it.
        self.screen.set_focus(self)

    def action_close(self) -> None:
        self.display = False
        self.disabled = True
        self.post_message(self.Closed())
