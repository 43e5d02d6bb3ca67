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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from explorer.events import CheckpointReached, ScheduleAction, ScheduleDecision
from explorer.scheduling.base import Scheduler, SchedulerContext
from explorer.scheduling.checkpoints import Arrival, CheckpointMode, CheckpointSource, SourceHooks
from explorer.scheduling.faults import DelayFaults, KillFaults, ReleaseWindow
from explorer.scheduling.server import HOOK
from explorer.scheduling.strategies import Parked, Strategy

STOP_WAIT = 5.0  # seconds stop() waits for the decision loop before cancelling it

Status = Literal["starting", "parked", "running", "blocked", "gone"]


@dataclass
class _Child:
    status: Status = "starting"
    checkpoint: str = ""
    is_yield: bool = False
    since: float = 0.0  # loop time of the last status change, for the grace period
    held_until: float | None = None  # parked under a delay fault until this loop time


@dataclass(frozen=True)
class Decision:
    chosen: int
    action: ScheduleAction
    delay: float = 0.0  # seconds, for "delay"


class ControlledScheduler(Scheduler):
    """Serialises the children at their checkpoints; subclasses decide who runs."""

    def __init__(
        self,
        make_strategy: Callable[[Sequence[int]], Strategy] | None,
        *,
        grace: float | None = None,
        start_grace: float | None = None,
        faults: KillFaults | None = None,
        delays: DelayFaults | None = None,
        window: ReleaseWindow | None = None,
        checkpoints: CheckpointMode = HOOK,
    ) -> None:
        self._make_strategy = make_strategy
        self.mode = checkpoints
        self.strategy: Strategy | None = None
        self.free_running = make_strategy is None
        self.grace = checkpoints.grace if grace is None else grace
        self.start_grace = checkpoints.start_grace if start_grace is None else start_grace
        self.faults = faults or KillFaults()
        self.delays = delays or DelayFaults()
        self.window = window or ReleaseWindow()
        self._released = False  # a child passed a release point since the last decision
        self.steps = 0
        self.arrivals = 0  # checkpoints reached in the block
        self._stopping = False
        self._children: dict[int, _Child] = {}
        self._changed = asyncio.Event()
        self._ctx: SchedulerContext | None = None
        self._source: CheckpointSource | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._granted = False  # the gate let the next decision through; not yet made

    @property
    def source(self) -> CheckpointSource | None:
        """Where its checkpoints come from (once started): for counts and measurements."""
        return self._source

    # -- the runner's side ------------------------------------------------------------

    async def start(self, ctx: SchedulerContext) -> None:
        self._ctx = ctx
        for child in ctx.children:
            self._children[child] = _Child(since=_now())
        if self._make_strategy is not None:
            self.strategy = self._make_strategy(sorted(ctx.children))
        hooks = SourceHooks(self._arrived, self._disconnected, self._active)
        self._source = self.mode.make(hooks, ctx.checkpoints)
        await self._source.start()
        if self.strategy is not None:
            self._loop_task = asyncio.create_task(self._decide_forever())

    def child_env(self, child: int) -> dict[str, str]:
        assert self._source is not None, "start() first"
        self._children.setdefault(child, _Child(since=_now()))
        return self._source.child_env(child)

    def child_argv(self, child: int, argv: Sequence[str]) -> list[str]:
        assert self._source is not None, "start() first"
        return self._source.wrap(child, argv)

    def child_started(self, child: int, pid: int) -> None:
        """Nothing to do: the child counts as starting from `child_env`, and it may
        already have parked at its first checkpoint by the time this is called."""

    def child_exited(self, child: int) -> None:
        self._set(child, "gone")

    async def stop(self) -> None:
        # A flag the loop looks at, not a cancellation: on Python 3.11 `asyncio.wait_for`
        # swallows a cancellation that lands in the tick its inner wait completes, and the
        # loop would wait for a change that never comes. Cancelled only if it does not end
        # (held in a face's decision gate, say).
        self._stopping = True
        self._changed.set()
        if self._loop_task is not None:
            _, pending = await asyncio.wait({self._loop_task}, timeout=STOP_WAIT)
            for task in pending:
                task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._source is not None:
            await self._source.close()

    # -- the children's side ----------------------------------------------------------

    def _arrived(self, arrival: Arrival) -> None:
        state = self._children.setdefault(arrival.child, _Child())
        if state.status == "gone":
            return
        # Passed: ran on from one (syscalls: the held unlock) or reached one (the hook's
        # `lock-released`, reported after the release).
        self._released = self._released or any(
            self.window.is_release(name) for name in (state.checkpoint, arrival.name) if name)
        state.checkpoint, state.is_yield = arrival.name, arrival.is_yield
        self.arrivals += 1
        if arrival.is_yield and self.strategy is not None:
            self.strategy.note_yield(arrival.child)
        self._set(arrival.child, "parked")
        ctx = self._ctx
        if ctx is not None:
            ctx.emit(CheckpointReached(
                t=ctx.now(), iteration=ctx.iteration, child=arrival.child, name=arrival.name,
                thread=getattr(arrival, "tid", None), path=getattr(arrival, "path", None),
            ))
        if self.free_running:  # only kill and delay faults are controlled
            self._apply(self._fault_or_run(arrival.child))

    def _disconnected(self, child: int) -> None:
        self._set(child, "gone")

    def _active(self, child: int) -> None:
        """A sign of life: a child busy outside the checkpoints is not blocked (yet)."""
        state = self._children.get(child)
        if state is not None and state.status in ("starting", "running"):
            state.since = _now()

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
        while not self._stopping:
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
            await self._wait_for_change(sooner(wait, self._hold_left()))

    def _held(self, child: int) -> bool:
        state = self._children.get(child)
        until = state.held_until if state is not None else None
        return until is not None and _now() < until

    def _hold_left(self) -> float | None:
        """Seconds until the next delay fault ends (None: no child is held)."""
        ends = [s.held_until for s in self._children.values()
                if s.held_until is not None and s.status == "parked"]
        return max(0.0, min(ends) - _now()) if ends else None

    async def _wait_for_change(self, timeout: float | None) -> None:
        """Until a child's status changes, stop() is called, or `timeout` seconds pass.
        A timer sets the event instead of `wait_for` cancelling the wait (see stop())."""
        if self._stopping:
            return
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(timeout, self._changed.set)
        try:
            await self._changed.wait()
        finally:
            if timer is not None:
                timer.cancel()

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
        # A held child resumes as soon as its delay ends, as a paused process would.
        for p in parked:
            if self._children[p.child].held_until is not None and not self._held(p.child):
                return Decision(p.child, "run")
        free = [p for p in parked if not self._held(p.child)]
        if not free:
            return None
        released, self._released = self._released, False
        waiters = [p for p in free if p.is_yield]
        step = self.steps + 1
        if waiters and len(waiters) < len(free) and self.window.opens(released):
            return self._fault_or_run(self.strategy.choose_waiter(waiters, step))
        # Otherwise a spinner runs last: it must not starve the child it waits for.
        runnable = [p for p in free if not p.is_yield] or free
        return self._fault_or_run(self.strategy.choose(runnable, step))

    def _fault_or_run(self, child: int) -> Decision:
        state = self._children[child]
        parked = Parked(child, state.checkpoint, state.is_yield)
        if self.faults.should_kill(parked):
            return Decision(child, "kill")
        delay = self.delays.delay_for(parked)
        return Decision(child, "delay", delay) if delay else Decision(child, "run")

    def _apply(self, decision: Decision) -> None:
        self._record(decision)
        if decision.action == "kill":
            self._set(decision.chosen, "gone")
            if self._ctx is not None:
                self._ctx.kill(decision.chosen)
        elif decision.action == "delay":
            self._children[decision.chosen].held_until = _now() + decision.delay
            self._changed.set()
            if self.free_running:  # nobody decides: end the hold by the clock
                asyncio.get_running_loop().call_later(
                    decision.delay, self._resume, decision.chosen)
        elif decision.action == "run":
            self._children[decision.chosen].held_until = None
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
                delay=decision.delay,
            )
        )


    def _resume(self, child: int) -> None:
        state = self._children.get(child)
        if state is not None and state.status == "parked" and not self._stopping:
            self._apply(Decision(child, "run"))


def sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _now() -> float:
    return asyncio.get_running_loop().time()
