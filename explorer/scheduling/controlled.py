"""A scheduler that lets one child at a time run from checkpoint to checkpoint.

Children start together and run to their first checkpoint, where they park.
Whenever no child is running, one decision is made: which parked child gets
`go` (or is killed, for a kill fault). A child that neither parks again nor
exits within the grace period is declared blocked (it is waiting outside any
checkpoint, e.g. in SQLite's busy handler or on a file lock) and another may
run; that declaration is itself a recorded decision, so replay repeats it.
Every decision is a `ScheduleDecision` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from explorer.events import CheckpointReached, ScheduleAction, ScheduleDecision
from explorer.scheduling.base import Scheduler, SchedulerContext
from explorer.scheduling.checkpoints import Arrival, CheckpointSource, SourceFactory
from explorer.scheduling.server import CheckpointServer
from explorer.scheduling.strategies import Parked, Strategy

# Long enough for a step between two checkpoints on a loaded machine, short enough that
# a child waiting in SQLite's busy handler (1 s in the reference CLI) is declared blocked,
# and the holder of the lock it waits for runs, well before its timeout.
DEFAULT_GRACE = 0.3

Status = Literal["starting", "parked", "running", "blocked", "gone"]


@dataclass
class KillFaults:
    """Which checkpoints kill the child that reaches them (a real SIGKILL of its group)."""

    at: str | None = None  # the first child of the block to reach this checkpoint
    rate: float = 0.0  # otherwise, each decision kills its child with this probability
    rng: random.Random = field(default_factory=random.Random)
    _fired: bool = False

    def should_kill(self, parked: Parked) -> bool:
        if self.at is not None and parked.name == self.at and not self._fired:
            self._fired = True
            return True
        return self.rate > 0 and self.rng.random() < self.rate


@dataclass
class _Child:
    status: Status = "starting"
    checkpoint: str = ""
    is_yield: bool = False
    since: float = 0.0  # loop time of the last status change, for the grace period


@dataclass(frozen=True)
class Decision:
    chosen: int
    action: ScheduleAction


class ControlledScheduler(Scheduler):
    """Serialises the children at their checkpoints; subclasses decide who runs."""

    def __init__(
        self,
        make_strategy: Callable[[Sequence[int]], Strategy] | None,
        *,
        grace: float = DEFAULT_GRACE,
        start_grace: float = 10.0,
        faults: KillFaults | None = None,
        checkpoints: SourceFactory = CheckpointServer,
    ) -> None:
        self._make_strategy = make_strategy
        self._make_source = checkpoints
        self.strategy: Strategy | None = None
        self.free_running = make_strategy is None
        self.grace = grace
        self.start_grace = start_grace
        self.faults = faults or KillFaults()
        self.steps = 0
        self._children: dict[int, _Child] = {}
        self._changed = asyncio.Event()
        self._ctx: SchedulerContext | None = None
        self._source: CheckpointSource | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._granted = False  # the gate let the next decision through; not yet made

    # -- the runner's side ------------------------------------------------------------

    async def start(self, ctx: SchedulerContext) -> None:
        self._ctx = ctx
        for child in ctx.children:
            self._children[child] = _Child(since=_now())
        if self._make_strategy is not None:
            self.strategy = self._make_strategy(sorted(ctx.children))
        self._source = self._make_source(self._arrived, self._disconnected)
        await self._source.start()
        if self.strategy is not None:
            self._loop_task = asyncio.create_task(self._decide_forever())

    def child_env(self, child: int) -> dict[str, str]:
        assert self._source is not None, "start() first"
        self._children.setdefault(child, _Child(since=_now()))
        return self._source.child_env(child)

    def child_started(self, child: int, pid: int) -> None:
        """Nothing to do: the child counts as starting from `child_env`, and it may
        already have parked at its first checkpoint by the time this is called."""

    def child_exited(self, child: int) -> None:
        self._set(child, "gone")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._source is not None:
            await self._source.close()

    # -- the children's side ----------------------------------------------------------

    def _arrived(self, arrival: Arrival) -> None:
        state = self._children.setdefault(arrival.child, _Child())
        if state.status == "gone":
            return
        state.checkpoint, state.is_yield = arrival.name, arrival.is_yield
        if arrival.is_yield and self.strategy is not None:
            self.strategy.note_yield(arrival.child)
        self._set(arrival.child, "parked")
        ctx = self._ctx
        if ctx is not None:
            ctx.emit(
                CheckpointReached(
                    t=ctx.now(), iteration=ctx.iteration, child=arrival.child, name=arrival.name
                )
            )
        if self.free_running:  # only kill faults are controlled
            self._apply(Decision(arrival.child, self._fault_or_run(arrival.child)))

    def _disconnected(self, child: int) -> None:
        self._set(child, "gone")

    # -- deciding ---------------------------------------------------------------------

    def _set(self, child: int, status: Status) -> None:
        state = self._children.setdefault(child, _Child())
        if state.status == "gone":
            return
        state.status, state.since = status, _now()
        self._changed.set()

    def parked(self) -> list[Parked]:
        return [
            Parked(child, s.checkpoint, s.is_yield)
            for child, s in sorted(self._children.items())
            if s.status == "parked"
        ]

    def _overdue(self) -> tuple[list[int], float | None]:
        """Children past their grace, and how long until the next one would be."""
        now, late, wait = _now(), [], None
        for child, s in sorted(self._children.items()):
            if s.status not in ("starting", "running"):
                continue
            limit = s.since + (self.start_grace if s.status == "starting" else self.grace)
            if now >= limit:
                late.append(child)
            else:
                wait = limit - now if wait is None else min(wait, limit - now)
        return late, wait

    async def _decide_forever(self) -> None:
        while True:
            self._changed.clear()
            late, wait = self._overdue()
            for child in late:
                self._children[child].status = "blocked"
                self._record(Decision(child, "blocked"))
            if wait is None and self.parked():
                if not self._granted:
                    await self._gate()
                    self._granted = True
                    continue  # a hold may have lasted: look at the children again
                await self._settle()
                decision = self.next_decision(self.parked())
                if decision is not None:
                    self._granted = False
                    self._apply(decision)
                    continue
            if wait is None:
                await self._changed.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wait)

    async def _gate(self) -> None:
        """A face stepping one decision at a time holds the next one here."""
        if self._ctx is not None and self._ctx.decision_gate is not None:
            await self._ctx.decision_gate()

    async def _settle(self) -> None:
        if self._ctx is not None and self._ctx.settled is not None:
            # Looking at the stores is an extra check: if it fails (a catalog that kept
            # changing under every copy), the children must still get their next turn.
            with contextlib.suppress(Exception):
                await self._ctx.settled()

    def next_decision(self, parked: Sequence[Parked]) -> Decision | None:
        """Called when no child runs: who goes next (None: wait for a change)."""
        if not parked or self.strategy is None:
            return None
        runnable = [p for p in parked if not p.is_yield] or list(parked)
        chosen = self.strategy.choose(runnable, self.steps + 1)
        return Decision(chosen, self._fault_or_run(chosen))

    def _fault_or_run(self, child: int) -> ScheduleAction:
        state = self._children[child]
        parked = Parked(child, state.checkpoint, state.is_yield)
        return "kill" if self.faults.should_kill(parked) else "run"

    def _apply(self, decision: Decision) -> None:
        self._record(decision)
        if decision.action == "kill":
            self._set(decision.chosen, "gone")
            if self._ctx is not None:
                self._ctx.kill(decision.chosen)
        elif decision.action == "run":
            self._set(decision.chosen, "running")
            assert self._source is not None
            self._source.release(decision.chosen)

    def _record(self, decision: Decision) -> None:
        self.steps += 1
        ctx = self._ctx
        if ctx is None:
            return
        parked = [(p.child, p.name) for p in self.parked()]
        ctx.emit(
            ScheduleDecision(
                t=ctx.now(),
                iteration=ctx.iteration,
                step=self.steps,
                parked=parked,
                chosen=decision.chosen,
                action=decision.action,
            )
        )


def _now() -> float:
    return asyncio.get_running_loop().time()
