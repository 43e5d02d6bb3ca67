"""Which parked child runs next: the choice rules, free of any I/O.

`RandomStrategy` picks uniformly. `PctStrategy` is probabilistic concurrency
testing (Burckhardt et al., ASPLOS 2010): distinct random priorities, d-1
priority change points spread over the expected number of steps k, and always
the highest-priority parked child. For n children it finds any bug of depth d
with probability at least 1/(n * k^(d-1)) per run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Parked:
    child: int
    name: str
    is_yield: bool


class Strategy:
    name = "strategy"

    def choose(self, eligible: Sequence[Parked], step: int) -> int:
        raise NotImplementedError

    def choose_waiter(self, waiters: Sequence[Parked], step: int) -> int:
        """Which spin-waiting child takes the step right after a lock's release."""
        return self.choose(waiters, step)

    def note_yield(self, child: int) -> None:
        """A child reached a spin-wait checkpoint; it must not starve the lock holder."""


class RandomStrategy(Strategy):
    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, eligible: Sequence[Parked], step: int) -> int:
        return self._rng.choice(sorted(p.child for p in eligible))


class PctStrategy(Strategy):
    name = "pct"

    def __init__(
        self, rng: random.Random, children: Sequence[int], depth: int, expected_steps: int
    ) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be at least 1")
        order = list(children)
        rng.shuffle(order)
        # Initial priorities are all >= depth, so every change point (priority < depth)
        # drops a child below all the children that have not been changed yet.
        self.priorities = {child: depth + rank for rank, child in enumerate(order)}
        steps = max(expected_steps, depth)
        points = rng.sample(range(1, steps + 1), depth - 1)
        self.change_points = {step: depth - 1 - i for i, step in enumerate(sorted(points))}
        self._spun: dict[int, int] = {}  # the turn each spinner last yielded at
        self._turns = 0

    def choose(self, eligible: Sequence[Parked], step: int) -> int:
        if all(p.is_yield for p in eligible):
            # Spinners among themselves take turns, the one that spun longest ago first:
            # the highest one could spin on a lock a lower one holds, forever.
            chosen = min(eligible, key=lambda p: (self._spun.get(p.child, 0), p.child)).child
        else:
            chosen = self._highest(eligible)
        if step in self.change_points:
            self.priorities[chosen] = self.change_points[step]
        return chosen

    def choose_waiter(self, waiters: Sequence[Parked], step: int) -> int:
        # A spinner keeps its priority: after a release the highest waiter goes.
        chosen = self._highest(waiters)
        if step in self.change_points:
            self.priorities[chosen] = self.change_points[step]
        return chosen

    def _highest(self, eligible: Sequence[Parked]) -> int:
        return max(eligible, key=lambda p: (self.priorities.get(p.child, 0), -p.child)).child

    def note_yield(self, child: int) -> None:
        self._turns += 1
        self._spun[child] = self._turns


@dataclass(frozen=True)
class StrategyInputs:
    """What a strategy may be made from, for one block."""

    rng: random.Random  # seeded per run and block
    children: Sequence[int]  # the block's child slots
    depth: int  # --depth
    expected_steps: int  # PCT's k: --pct-steps, or the checkpoint mode's first guess


# Every strategy `--strategy` offers, by name: how to make one block's. None is no control
# at all: the OS interleaves the children (and a kill fault still fires at a checkpoint).
STRATEGIES: dict[str, Callable[[StrategyInputs], Strategy] | None] = {
    "os": None,
    "random": lambda given: RandomStrategy(given.rng),
    "pct": lambda given: PctStrategy(given.rng, given.children, given.depth,
                                     given.expected_steps),
}
