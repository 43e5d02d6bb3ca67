"""Follow a recorded schedule exactly, and say where the run stopped matching it.

Before each recorded decision the replayer waits until the same children are
parked at the same checkpoints as when it was recorded, then makes the same
decision. A mismatch that does not resolve within `settle` seconds is a
divergence (the target is not deterministic under this schedule); it is
reported, and from then on the replayer only waits for no child to be
running before each decision, taking the recorded ones it still can. After the
last recorded decision every child runs freely.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence

from explorer.events import ScheduleDecision
from explorer.scheduling.base import SchedulerContext
from explorer.scheduling.checkpoints import CheckpointMode
from explorer.scheduling.controlled import ControlledScheduler, Decision, sooner
from explorer.scheduling.server import HOOK

_MOVING = ("starting", "running")
START_SETTLE = 60.0  # seconds the first recorded decision waits for its children to park
# What differs between two runs of the same program in a checkpoint name made from a path:
# numbers (pids, times, counters) and the random part of a temporary name (a word of 8
# characters from tempfile's alphabet; an ordinary 8-letter word is masked too, which only
# makes two names alike).
# A UUID (Deno's temporary names) is one volatile part.
_VOLATILE = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
                       r"|(?:(?<=tmp)|(?<![A-Za-z0-9_]))[a-z0-9_]{8}(?![A-Za-z0-9_])|[0-9]+")


def stable(name: str) -> str:
    """A checkpoint name as the replay compares it: its volatile parts masked."""
    return _VOLATILE.sub("#", name)


class ReplayScheduler(ControlledScheduler):
    def __init__(
        self, decisions: Sequence[ScheduleDecision], *, settle: float = 5.0,
        checkpoints: CheckpointMode = HOOK,
    ) -> None:
        super().__init__(None, checkpoints=checkpoints)
        self.free_running = False
        self.script = list(decisions)
        self.settle = settle
        # The first decision waits for every child to start and reach its first checkpoint:
        # a runtime's start-up is no divergence (four Deno processes at once on two busy
        # cores took 24 s to their first held call).
        self.start_settle = max(settle, START_SETTLE)
        self.divergences: list[str] = []

    async def start(self, ctx: SchedulerContext) -> None:
        await super().start(ctx)
        self._loop_task = asyncio.create_task(self._follow())

    def _parked_now(self) -> set[tuple[int, str]]:
        return {(p.child, stable(p.name)) for p in self.parked()}

    async def _until(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._stopping:
            self._changed.clear()
            if ready():
                return True
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            await self._wait_for_change(sooner(remaining, self._hold_left()))
        return False

    async def _follow(self) -> None:
        diverged = False
        for number, record in enumerate(self.script):
            if self._stopping:
                return
            expected = {(child, stable(name)) for child, name in record.parked}

            def ready(
                expected: set[tuple[int, str]] = expected,
                record: ScheduleDecision = record,
                loose: bool = diverged,
            ) -> bool:
                # As when recorded: the recorded children parked at the same checkpoints,
                # and none running, except the one a `blocked` record gives up waiting for.
                # A child parked now that was not then was stuck outside a checkpoint then
                # (a busy handler's back-off ends at its own pace); held here, it does not
                # run either. Once diverged, only "none running" still matters.
                running = {c for c, s in self._children.items() if s.status in _MOVING}
                same = loose or expected <= self._parked_now()
                if record.action == "blocked":
                    return same and record.chosen in running
                # A held child runs again once its delay is over, as when recorded.
                return same and not running and not self._held(record.chosen)

            held = self._hold_left() or 0.0
            timeout = (self.start_settle if number == 0 else self.settle) + held
            if not await self._until(ready, timeout) and not diverged:
                diverged = True
                self.divergences.append(
                    f"step {record.step}: recorded parked {sorted(expected)}, "
                    f"found {sorted(self._parked_now())}"
                )
            if record.action != "blocked":
                await self._settle()
            state = self._children.get(record.chosen)
            if record.action == "blocked":
                if state is not None and state.status in _MOVING:
                    state.status = "blocked"
                self._record(Decision(record.chosen, "blocked"))
            elif state is not None and state.status == "parked":
                self._apply(Decision(record.chosen, record.action, record.delay))
            elif not diverged:
                diverged = True
                self.divergences.append(
                    f"step {record.step}: child {record.chosen} was not parked; "
                    f"could not {record.action} it"
                )
        self.free_running = True
        for parked in self.parked():
            self._apply(Decision(parked.child, "run"))
