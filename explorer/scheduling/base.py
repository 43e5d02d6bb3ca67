"""The interface between the runner and a scheduling strategy.

The runner makes one `Scheduler` per block (iteration) from the run's
`SchedulerFactory`, so a strategy can learn across iterations (PCT learns the
expected number of steps). `OsScheduler` is no control at all: the children
never hear from the explorer and the OS interleaves them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from explorer.events import Event
from explorer.scheduling.checkpoints import SourceSettings


@dataclass(frozen=True)
class SchedulerContext:
    iteration: int
    emit: Callable[[Event], None]  # publish an event on the run's stream
    now: Callable[[], float]  # monotonic seconds since run start, for event times
    kill: Callable[[int], None]  # SIGKILL one child's whole process group (kill fault)
    children: Sequence[int] = ()  # the block's child slots, known before any starts
    # Awaited before each decision, while no child runs: the runner looks at the stores.
    settled: Callable[[], Awaitable[None]] | None = None
    # Awaited next: a face stepping one decision at a time holds it here.
    decision_gate: Callable[[], Awaitable[None]] | None = None
    # Where a mode that holds calls holds them (the syscalls mode: the roots, the groups).
    checkpoints: SourceSettings = field(default_factory=SourceSettings)


class Scheduler:
    """One block's scheduling. The default does nothing: the `os` strategy."""

    name = "os"

    async def start(self, ctx: SchedulerContext) -> None:
        """Called before any child of the block starts."""

    def child_env(self, child: int) -> dict[str, str]:
        """Extra environment for one child (the socket and child id when controlled)."""
        return {}

    def child_argv(self, child: int, argv: Sequence[str]) -> list[str]:
        """The command that runs the child (under a launcher, when one reports its calls)."""
        return list(argv)

    def child_started(self, child: int, pid: int) -> None:
        """The child's process exists."""

    def child_exited(self, child: int) -> None:
        """The child is gone; it will reach no more checkpoints."""

    async def stop(self) -> None:
        """Called after every child of the block exited (or was killed)."""


class OsScheduler(Scheduler):
    pass


class SchedulerFactory:
    """Makes the per-block scheduler; the `os` strategy's factory."""

    strategy = "os"

    def for_block(self, iteration: int) -> Scheduler:
        return OsScheduler()

    def notes(self) -> list[str]:
        """What the run should be told at its end about how it was scheduled."""
        return []
