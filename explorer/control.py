"""How a face steers a live run: pause, one more iteration, stop.

These are inputs to the runner, not facts about the run, so they are not
events; what the runner does because of them shows up in the event stream.
"""

from __future__ import annotations

import asyncio


class RunControl:
    """Gate between iterations. The runner awaits `next_iteration()` before each one."""

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._credits = 0  # iterations granted while paused
        self._stopping = False

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
