"""The faults a controlled schedule may inject, each drawn from its own seeded generator.

A kill fault SIGKILLs the child a decision picks; a delay fault holds it, parked, for a
wall-clock duration while the others run (a process paused by GC, swap or a loaded
machine); the release window gives a spin-waiting child the step right after another
child releases a lock, which the scheduler's usual rule (waiters run last) never does.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from explorer.scheduling.strategies import Parked


@dataclass
class KillFaults:
    """Which checkpoints kill the child that reaches them (a real SIGKILL of its group)."""

    at: str | None = None  # the first child of the block to reach a checkpoint matching this glob
    rate: float = 0.0  # otherwise, each decision kills its child with this probability
    rng: random.Random = field(default_factory=random.Random)
    _fired: bool = False

    def should_kill(self, parked: Parked) -> bool:
        if self.at is not None and not self._fired and fnmatch.fnmatchcase(parked.name, self.at):
            self._fired = True
            return True
        return self.rate > 0 and self.rng.random() < self.rate


def parse_stall(text: str) -> tuple[str, float]:
    """`GLOB=SECONDS` as given to --stall; ValueError saying what was expected."""
    glob, sep, seconds = text.rpartition("=")
    try:
        value = float(seconds)
    except ValueError:
        value = -1.0
    if not sep or not glob or not value > 0:
        raise ValueError(f"--stall {text!r}: expected CHECKPOINT_GLOB=SECONDS with SECONDS > 0 "
                         "(e.g. 'lockfile-writing=1.5')")
    return glob, value


@dataclass
class DelayFaults:
    """Which decisions hold their child for a while instead of running it."""

    # (glob, seconds): the first child of the block chosen at a matching checkpoint is held
    stalls: Sequence[tuple[str, float]] = ()
    rate: float = 0.0  # otherwise, each decision holds its child with this probability...
    max_delay: float = 1.0  # ...for a duration drawn uniformly up to this many seconds
    rng: random.Random = field(default_factory=random.Random)
    _fired: set[int] = field(default_factory=set)

    def delay_for(self, parked: Parked) -> float:
        """Seconds to hold this child (0: run it now)."""
        for rule, (glob, seconds) in enumerate(self.stalls):
            if rule not in self._fired and fnmatch.fnmatchcase(parked.name, glob):
                self._fired.add(rule)
                return seconds
        if self.rate > 0 and self.rng.random() < self.rate:
            # Whole milliseconds: the trace records the duration the replay holds for.
            return max(0.001, round(self.rng.uniform(0, self.max_delay), 3))
        return 0.0


@dataclass
class ReleaseWindow:
    """After a child parks at a release point, a spin-waiting child gets the next step with
    probability `chance` (the strategy picks which waiter)."""

    points: Sequence[str] = ()  # globs of checkpoint names that follow a lock's release
    chance: float = 0.5
    rng: random.Random = field(default_factory=random.Random)

    def is_release(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.points)

    def opens(self, released: bool) -> bool:
        """Whether this decision goes to a waiter; draws only when a release was passed,
        so runs without release points decide as before."""
        return released and self.chance > 0 and self.rng.random() < self.chance
