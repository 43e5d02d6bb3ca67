"""Follow a script of decisions loosely: the shrinker's way of trying a changed schedule.

Unlike `ReplayScheduler`, which insists on the recorded state at every step, a
script is only a list of (child, action, delay) to take in order: an entry whose
child is not parked when its turn comes is dropped. Once the script runs out,
no child is preempted again: the one that ran last runs on while it can, so a
shorter script means fewer context switches. What actually happened is still
recorded as ordinary decisions, which replay exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.events import ScheduleAction
from explorer.scheduling.base import Scheduler, SchedulerFactory
from explorer.scheduling.checkpoints import CheckpointMode
from explorer.scheduling.controlled import ControlledScheduler, Decision
from explorer.scheduling.server import HOOK
from explorer.scheduling.strategies import Parked, Strategy

# (child, action), or (child, "delay", seconds held)
Step = tuple[int, ScheduleAction] | tuple[int, ScheduleAction, float]
Script = list[Step]


def delay_of(step: Step) -> float:
    return step[2] if len(step) > 2 else 0.0  # type: ignore[misc]


class NonPreemptiveStrategy(Strategy):
    """Run the same child as long as it is parked; otherwise the lowest-numbered one."""

    name = "non-preemptive"

    def __init__(self) -> None:
        self.last: int | None = None

    def choose(self, eligible: Sequence[Parked], step: int) -> int:
        ids = [p.child for p in eligible]
        self.last = self.last if self.last in ids else min(ids)
        return self.last


class ScriptScheduler(ControlledScheduler):
    def __init__(self, script: Script, checkpoints: CheckpointMode = HOOK) -> None:
        super().__init__(lambda children: NonPreemptiveStrategy(), checkpoints=checkpoints)
        self.script = list(script)

    def next_decision(self, parked: Sequence[Parked]) -> Decision | None:
        waiting = {p.child for p in parked}
        while self.script:
            child, action, delay = self.script[0][0], self.script[0][1], delay_of(self.script[0])
            if child in waiting and self._held(child):
                return None  # its delay is not over: it ran only after it, as recorded
            self.script.pop(0)
            if child in waiting:
                if isinstance(self.strategy, NonPreemptiveStrategy) and action == "run":
                    self.strategy.last = child
                return Decision(child, action, delay)
        return super().next_decision(parked)


class ScriptFactory(SchedulerFactory):
    strategy = "script"

    def __init__(self, iteration: int, script: Script, checkpoints: CheckpointMode = HOOK
                 ) -> None:
        self.iteration, self.script, self.checkpoints = iteration, script, checkpoints

    def for_block(self, iteration: int) -> Scheduler:
        return ScriptScheduler(self.script if iteration == self.iteration else [],
                               self.checkpoints)
