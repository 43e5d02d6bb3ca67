"""Build the run's scheduler factory from the command-line choices."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from explorer.events import ScheduleDecision
from explorer.scheduling.base import OsScheduler, Scheduler, SchedulerFactory
from explorer.scheduling.checkpoints import SourceFactory
from explorer.scheduling.controlled import DEFAULT_GRACE, ControlledScheduler, KillFaults
from explorer.scheduling.replay import ReplayScheduler
from explorer.scheduling.server import CheckpointServer
from explorer.scheduling.strategies import STRATEGIES, Strategy, StrategyInputs

# Every checkpoint source by name, as STRATEGIES names the strategies; the first is the default.
CHECKPOINT_MODES: dict[str, SourceFactory] = {"hook": CheckpointServer}
# PCT's k, the steps an iteration is expected to take. Fixed, not learnt from the iterations
# before: an iteration's decisions then depend only on the seed and its number, so a shard
# (`--shard`) that never ran those iterations decides exactly as the whole run does.
PCT_STEPS = 30


class ControlledFactory(SchedulerFactory):
    """One seeded scheduler per iteration, made from the seed and the iteration's number."""

    def __init__(
        self,
        strategy: str,
        seed: int,
        *,
        depth: int = 3,
        grace: float = DEFAULT_GRACE,
        kill_at: str | None = None,
        kill_rate: float = 0.0,
        checkpoints: str = "hook",
        pct_steps: int = PCT_STEPS,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (expected one of: "
                             f"{', '.join(STRATEGIES)})")
        self.strategy = strategy
        self._make = STRATEGIES[strategy]
        self._source = CHECKPOINT_MODES[checkpoints]
        self.seed, self.depth, self.grace = seed, depth, grace
        self.kill_at, self.kill_rate = kill_at, kill_rate
        self.pct_steps = pct_steps

    def for_block(self, iteration: int) -> Scheduler:
        rng = random.Random(f"{self.seed}:{iteration}")
        faults = KillFaults(
            at=self.kill_at, rate=self.kill_rate, rng=random.Random(f"{self.seed}:{iteration}:kill")
        )
        k, make = self.pct_steps, self._make

        def strategy(children: Sequence[int]) -> Strategy:
            assert make is not None
            return make(StrategyInputs(rng, children, self.depth, k))

        scheduler = ControlledScheduler(
            None if make is None else strategy, grace=self.grace, faults=faults,
            checkpoints=self._source,
        )
        return scheduler


class ReplayFactory(SchedulerFactory):
    """Replays each iteration's recorded decisions; iterations without any run freely."""

    strategy = "replay"

    def __init__(self, schedules: Mapping[int, Sequence[ScheduleDecision]]) -> None:
        self.schedules = schedules
        self.made: dict[int, ReplayScheduler] = {}

    def for_block(self, iteration: int) -> Scheduler:
        decisions = self.schedules.get(iteration)
        if not decisions:
            return OsScheduler()
        self.made[iteration] = ReplayScheduler(decisions)
        return self.made[iteration]


def make_factory(
    strategy: str,
    seed: int,
    *,
    depth: int = 3,
    kill_at: str | None = None,
    kill_rate: float = 0.0,
    pct_steps: int = PCT_STEPS,
) -> SchedulerFactory:
    """`os` without kill faults needs no socket at all: the plain factory."""
    if strategy == "os" and kill_at is None and not kill_rate:
        return SchedulerFactory()
    return ControlledFactory(
        strategy, seed, depth=depth, kill_at=kill_at, kill_rate=kill_rate, pct_steps=pct_steps
    )
