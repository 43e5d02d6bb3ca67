"""Every action of the app, declared once: its key, its words and when it is available.

This one table feeds the key bindings (and so the footer), the command palette and the
help screen's key table. Where an action lives:

- "screen": the main screen's (navigation, search, copy, the timeline);
- "run": the app's, as it steers the run, but bound on the main screen (as
  `app.<name>`): the footer keeps one order, and behind the timeline or the help
  the keys do nothing;
- "app": the app's, on every screen (help, theme, quit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from explorer.tui.main_screen import MainScreen

Where = Literal["screen", "run", "app"]
Available = Callable[["MainScreen"], bool]


def _always(_: MainScreen) -> bool:
    return True


@dataclass(frozen=True)
class Action:
    key: str  # Textual's key name(s), comma separated
    action: str  # the action string, parameters and all: "step(1)"
    label: str  # the footer's word
    title: str  # the palette's name ("" : Textual's own palette entry covers it)
    description: str  # the palette's help line and the help screen's row
    where: Where = "screen"
    show: bool = True  # in the footer
    key_display: str | None = None
    available: Available = _always

    @property
    def name(self) -> str:
        return self.action.split("(")[0]

    @property
    def binding(self) -> Binding:
        action = f"app.{self.action}" if self.where == "run" else self.action
        return Binding(self.key, action, self.label, show=self.show, key_display=self.key_display)

    @property
    def binding_from_screen(self) -> Binding:
        """An app action bound on the main screen too, so the footer shows it first."""
        return Binding(
            self.key, f"app.{self.action}", self.label, show=self.show, key_display=self.key_display
        )


def _running(screen: MainScreen) -> bool:
    return screen.explorer.running


def _decisions_to_step(screen: MainScreen) -> bool:
    # The os strategy makes no decisions to step (the help says so).
    started = screen.explorer.view.started
    return _running(screen) and started is not None and started.strategy != "os"


def _ended_broken(screen: MainScreen) -> bool:
    block = screen.shown.block
    summary = screen.history.summaries().get(block.iteration) if block is not None else None
    return summary is not None and bool(summary.breaks)


ACTIONS: tuple[Action, ...] = (
    Action(
        "space",
        "pause",
        "Pause",
        "Pause",
        "Pause the run: the current iteration finishes, no new one starts",
        where="run",
        available=lambda s: _running(s) and not s.explorer.paused,
    ),
    Action(
        "space",
        "resume",
        "Resume",
        "Resume",
        "Resume the paused run",
        where="run",
        available=lambda s: _running(s) and s.explorer.paused,
    ),
    Action(
        "n",
        "one_more",
        "One more",
        "One more iteration",
        "Live, while paused: run exactly one more iteration",
        where="run",
        available=lambda s: _running(s) and s.explorer.paused,
    ),
    Action(
        "s",
        "step_decision",
        "Decide",
        "Step one decision",
        "Live, random or pct strategy: hold the scheduling decisions, then let one through"
        " each press (the children wait parked at their checkpoints; their timeouts do not"
        " count the wait)",
        where="run",
        available=_decisions_to_step,
    ),
    Action(
        "g",
        "release_decisions",
        "Go on",
        "Go on",
        "Stop stepping the scheduling decisions",
        where="run",
        available=lambda s: _running(s) and s.explorer.stepping,
    ),
    Action(
        "n",
        "next_iteration",
        "Next it.",
        "Next iteration",
        "Show the next iteration (while a live run is paused, n runs one more instead)",
        available=lambda s: not _running(s) or not s.explorer.paused,
    ),
    Action(
        "p",
        "previous_iteration",
        "Prev it.",
        "Previous iteration",
        "Show the previous iteration",
        show=False,
    ),
    Action(
        "right_square_bracket",
        "next_break",
        "Next break",
        "Next break",
        "Jump to the next break",
        key_display="]",
    ),
    Action(
        "left_square_bracket",
        "previous_break",
        "Prev break",
        "Previous break",
        "Jump to the previous break",
        show=False,
        key_display="[",
    ),
    Action(
        "full_stop",
        "step(1)",
        "Step",
        "Step forwards",
        "Step one event forwards in the shown iteration",
        key_display=".",
    ),
    Action(
        "comma",
        "step(-1)",
        "Back",
        "Step back",
        "Step one event backwards in the shown iteration",
        show=False,
        key_display=",",
    ),
    Action(
        "greater_than_sign",
        "block_edge(1)",
        "End of it.",
        "End of the iteration",
        "Jump to the last event of the shown iteration",
        show=False,
        key_display=">",
    ),
    Action(
        "less_than_sign",
        "block_edge(-1)",
        "Start of it.",
        "Start of the iteration",
        "Jump to the first event of the shown iteration",
        show=False,
        key_display="<",
    ),
    Action(
        "l",
        "follow",
        "Follow",
        "Follow the live run",
        "Follow the live run again: back to the running iteration",
        show=False,
        available=lambda s: s.explorer.live and s.position is not None,
    ),
    Action(
        "slash",
        "find('search')",
        "Search",
        "Search panes",
        "Find a line in the child panes (enter again for the next match)",
        key_display="/",
    ),
    Action(
        "f",
        "find('filter')",
        "Filter",
        "Filter lines",
        "Show only the lines containing a string",
    ),
    Action("t", "timeline", "Timeline", "Timeline", "The swimlane timeline of the shown iteration"),
    Action(
        "w",
        "why",
        "Why?",
        "Why did it break?",
        "Why the shown iteration broke: only the children's steps on what broke, in order,"
        " and the stores' last consistent look beside the first broken one (from its shrunk"
        " case when `shrink` made one)",
        available=_ended_broken,
    ),
    Action(
        "o",
        "other_pane",
        "Pane",
        "Next child pane",
        "Show and focus the next child's pane (on a narrow terminal the panes take turns;"
        " the strip above them lists all)",
    ),
    Action(
        "z",
        "zoom",
        "Zoom",
        "Maximise the focused pane",
        "Maximise the focused pane (a child, the invariants, the state) to the whole"
        " screen; z or esc again to restore",
    ),
    Action(
        "c",
        "copy",
        "Copy",
        "Copy",
        "Copy the focused pane's text, or the focused invariant's break",
    ),
    Action(
        "ctrl+t", "change_theme", "Theme", "", "Change the colour theme", where="app", show=False
    ),
    Action(
        "question_mark",
        "help",
        "Help",
        "Help",
        "This help: the keys and what the screen shows",
        where="app",
        key_display="?",
    ),
    Action("q", "quit", "Quit", "", "Quit: the children are killed, the trace closed", where="app"),
)

BY_NAME = {action.name: action for action in ACTIONS}


def screen_bindings() -> list[BindingType]:
    # Help and quit first: a narrow footer cuts its end, and these two must stay.
    first = [a.binding_from_screen for a in ACTIONS if a.where == "app" and a.show]
    rest = [a.binding for a in ACTIONS if a.where != "app"]
    return [*first, *rest]


def app_bindings() -> list[BindingType]:
    return [a.binding for a in ACTIONS if a.where == "app"]


def keys_markdown() -> str:
    """The help screen's key table."""
    rows = [f"| `{a.key_display or a.key}` | {a.description} |" for a in ACTIONS]
    palette = "| `ctrl+p` | The command palette: every action above, and the themes |"
    return "\n".join(["| key | does |", "| --- | --- |", *rows, palette])
