"""The help screen: its text is help.md beside this module, its key table the actions'."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from explorer.tui.actions import keys_markdown

HELP_TEXT = (
    (Path(__file__).parent / "help.md")
    .read_text(encoding="utf-8")
    .replace("<!-- the key table: explorer/tui/actions.py -->", keys_markdown())
)


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "#help"  # the keys scroll it at once (PageDown, End), no Tab first
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP_TEXT)
