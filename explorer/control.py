"""How a face steers a live run: pause, one more iteration, stop, one decision at a time.

These are inputs to the runner, not facts about the run, so they are not
events; what the runner does because of them shows up in the event stream.
"""

from __future__ import annotations

import asyncio
import time


class RunControl:
    """Gates between iterations and between scheduling decisions.

    The runner awaits `next_iteration()` before each iteration; a controlled scheduler
    awaits `next_decision()` before each decision, with every child parked.
    """

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._credits = 0  # iterations granted while paused
        self._stopping = False
        self._stepping = False
        self._deciding = asyncio.Event()
        self._deciding.set()
        self._decision_credits = 0  # decisions granted while stepping
        self._held = 0.0  # seconds decisions were held, for the children's timeouts
        self._held_since: float | None = None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        """Let the current iteration finish; start no new one until resumed."""
        self._running.clear()

    def resume(self) -> None:
        self._credits = 0  # a leftover "one more" would pause the run again
        self._running.set()

    def one_more(self) -> None:
        """While paused, allow exactly one more iteration to start."""
        self._credits += 1
        self._running.set()

    def stop(self) -> None:
        """Start no new iteration; the runner finishes the run (reconcile skipped)."""
        self._stopping = True
        self._running.set()
        self.release_decisions()

    async def next_iteration(self) -> bool:
        """Wait until an iteration may start; False means the run should end."""
        await self._running.wait()
        if self._stopping:
            return False
        if self._credits:
            self._credits -= 1
            if not self._credits:
                self._running.clear()
        return True

    # -- one scheduling decision at a time -------------------------------------------

    @property
    def stepping(self) -> bool:
        return self._stepping

    def hold_decisions(self) -> None:
        """Hold every scheduling decision until `one_decision` or `release_decisions`."""
        self._stepping = True
        self._deciding.clear()

    def one_decision(self) -> None:
        """While stepping, let exactly one more decision be made."""
        if self._stepping:
            self._decision_credits += 1
            self._deciding.set()

    def release_decisions(self) -> None:
        self._stepping = False
        self._decision_credits = 0
        self._deciding.set()
        self._end_hold()

    async def next_decision(self) -> None:
        """Wait until the scheduler may decide; the wait counts as held time."""
        if not self._deciding.is_set():
            self._held_since = time.monotonic()
            try:
                await self._deciding.wait()
            finally:
                self._end_hold()
        if self._decision_credits:
            self._decision_credits -= 1
            if not self._decision_credits and self._stepping:
                self._deciding.clear()

    def _end_hold(self) -> None:
        if self._held_since is not None:
            self._held += time.monotonic() - self._held_since
            self._held_since = None

    def held_seconds(self) -> float:
        """Seconds decisions have been held so far, the current hold included: a child
        parked at a held decision is not running, so its timeout does not count them."""
        ongoing = time.monotonic() - self._held_since if self._held_since is not None else 0.0
        return self._held + ongoing
