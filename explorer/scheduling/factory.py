"""Build the run's scheduler factory from the command-line choices."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from explorer.events import ScheduleDecision
from explorer.intercept.mode import SYSCALLS
from explorer.scheduling.base import OsScheduler, Scheduler, SchedulerFactory
from explorer.scheduling.checkpoints import CheckpointMode
from explorer.scheduling.controlled import ControlledScheduler
from explorer.scheduling.faults import DelayFaults, KillFaults, ReleaseWindow, parse_stall
from explorer.scheduling.replay import ReplayScheduler
from explorer.scheduling.server import HOOK
from explorer.scheduling.strategies import STRATEGIES, Strategy, StrategyInputs

# Every checkpoint source by name, as STRATEGIES names the strategies; the first is the default.
CHECKPOINT_MODES: dict[str, CheckpointMode] = {mode.name: mode for mode in (HOOK, SYSCALLS)}
DEFAULT_CHECKPOINTS = next(iter(CHECKPOINT_MODES))


def checkpoint_mode(name: str) -> CheckpointMode:
    """The mode by name; ValueError naming the known ones."""
    if name not in CHECKPOINT_MODES:
        raise ValueError(f"unknown checkpoint mode {name!r} (expected one of: "
                         f"{', '.join(CHECKPOINT_MODES)})")
    return CHECKPOINT_MODES[name]


@dataclass(frozen=True)
class FaultOptions:
    """Delay faults and the release window, as the command line gives them."""

    stalls: tuple[tuple[str, float], ...] = ()  # (checkpoint glob, seconds), from --stall
    delay_rate: float = 0.0
    max_delay: float = 1.0
    release_points: tuple[str, ...] = ()  # checkpoint globs that follow a lock's release
    release_window: float = 0.5  # the chance a waiter gets the step after a release

    @classmethod
    def of(cls, stall: Sequence[str] = (), delay_rate: float = 0.0, max_delay: float = 1.0,
           release_points: Sequence[str] = (), release_window: float = 0.5) -> FaultOptions:
        """From the options' text; ValueError naming a malformed --stall."""
        return cls(tuple(parse_stall(s) for s in stall), delay_rate, max_delay,
                   tuple(release_points), release_window)

    @property
    def any(self) -> bool:
        """Faults the `os` strategy applies too (it makes no decision a window could change)."""
        return bool(self.stalls or self.delay_rate)


class ControlledFactory(SchedulerFactory):
    """One seeded scheduler per iteration, made from the seed and the iteration's number."""

    def __init__(
        self,
        strategy: str,
        seed: int,
        *,
        depth: int = 3,
        grace: float | None = None,
        kill_at: str | None = None,
        kill_rate: float = 0.0,
        checkpoints: str = DEFAULT_CHECKPOINTS,
        pct_steps: int | None = None,
        faults: FaultOptions | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (expected one of: "
                             f"{', '.join(STRATEGIES)})")
        self.strategy = strategy
        self._make = STRATEGIES[strategy]
        self.checkpoints = checkpoint_mode(checkpoints)
        self.seed, self.depth, self.grace = seed, depth, grace
        self.kill_at, self.kill_rate = kill_at, kill_rate
        self.faults = faults or FaultOptions()
        # PCT's k, the steps an iteration is expected to take: given, or the mode's first guess.
        # Fixed, not learnt from the iterations before, so an iteration's decisions depend only
        # on the seed and its number and a shard (`--shard`) decides as the whole run does.
        self.pct_steps = pct_steps or self.checkpoints.first_guess_steps
        self.made: list[ControlledScheduler] = []  # one per block, in order

    def notes(self) -> list[str]:
        if not self.made or any(s.arrivals for s in self.made):
            return []
        mode = self.checkpoints.name
        advice = ("the target does not call the checkpoint hook: try --checkpoints syscalls"
                  if mode == HOOK.name else
                  "the target made no held call under the checkpoint roots: check the "
                  "scenario's [checkpoints] roots and groups")
        return [f"no child reached a checkpoint in {len(self.made)} controlled "
                f"iteration{'s' if len(self.made) != 1 else ''} ({mode} checkpoints), so "
                f"{self.strategy} chose nothing; {advice}"]

    def for_block(self, iteration: int) -> Scheduler:
        rng = random.Random(f"{self.seed}:{iteration}")
        faults = KillFaults(
            at=self.kill_at, rate=self.kill_rate, rng=random.Random(f"{self.seed}:{iteration}:kill")
        )
        given = self.faults
        delays = DelayFaults(given.stalls, given.delay_rate, given.max_delay,
                             random.Random(f"{self.seed}:{iteration}:delay"))
        window = ReleaseWindow(given.release_points, given.release_window,
                               random.Random(f"{self.seed}:{iteration}:window"))
        k, make = self.pct_steps, self._make

        def strategy(children: Sequence[int]) -> Strategy:
            assert make is not None
            return make(StrategyInputs(rng, children, self.depth, k))

        scheduler = ControlledScheduler(
            None if make is None else strategy, grace=self.grace, faults=faults, delays=delays,
            window=window, checkpoints=self.checkpoints,
        )
        self.made.append(scheduler)
        return scheduler


class ReplayFactory(SchedulerFactory):
    """Replays each iteration's recorded decisions; iterations without any run freely."""

    strategy = "replay"

    def __init__(self, schedules: Mapping[int, Sequence[ScheduleDecision]],
                 checkpoints: str = DEFAULT_CHECKPOINTS) -> None:
        self.schedules = schedules
        self.checkpoints = checkpoint_mode(checkpoints)
        self.made: dict[int, ReplayScheduler] = {}

    def for_block(self, iteration: int) -> Scheduler:
        decisions = self.schedules.get(iteration)
        if not decisions:
            return OsScheduler()
        self.made[iteration] = ReplayScheduler(decisions, checkpoints=self.checkpoints)
        return self.made[iteration]


def make_factory(
    strategy: str,
    seed: int,
    *,
    depth: int = 3,
    kill_at: str | None = None,
    kill_rate: float = 0.0,
    checkpoints: str = DEFAULT_CHECKPOINTS,
    pct_steps: int | None = None,
    faults: FaultOptions | None = None,
) -> SchedulerFactory:
    """`os` without kill faults needs no checkpoints at all: the plain factory (no socket,
    no launcher). ValueError for an unknown name or a mode that cannot work here."""
    mode = checkpoint_mode(checkpoints)
    if strategy == "os" and kill_at is None and not kill_rate and not (faults and faults.any):
        return SchedulerFactory()
    why = mode.unavailable()
    if why is not None:
        raise ValueError(f"--checkpoints {mode.name} cannot work here: {why}. Use "
                         "--checkpoints hook for a target that calls the checkpoint hook, "
                         "or --strategy os")
    return ControlledFactory(strategy, seed, depth=depth, kill_at=kill_at, kill_rate=kill_rate,
                             checkpoints=checkpoints, pct_steps=pct_steps, faults=faults)
