"""Messages between the runner's consumer, the app and its widgets.

The ones that carry "the latest state" define `can_replace`, so a burst of
updates queued behind a slow frame collapses into the newest one.
"""

from __future__ import annotations

from textual.message import Message

from explorer.tui.state_view import StateView


class EventsQueued(Message):
    """New events wait in the app's queue; one of these is as good as ten."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsQueued)


class StateUpdated(Message, bubble=False):
    """The state pane should show this state (replacing any older one still queued)."""

    def __init__(self, state: StateView, version: int) -> None:
        super().__init__()
        self.state = state
        self.version = version

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateUpdated)


class IterationChosen(Message):
    """The user picked an iteration in the list (or the timeline) to look at."""

    def __init__(self, iteration: int) -> None:
        super().__init__()
        self.iteration = iteration


class RunEnded(Message):
    """The run is over; the result (or error) is on the app."""
