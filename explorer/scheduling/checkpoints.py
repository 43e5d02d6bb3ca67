"""Where checkpoints come from: the seam between the controlled scheduler and a source.

A source tells the scheduler when a child arrives at a checkpoint and when it
is gone, and lets a parked child go on. The scheduler neither knows nor cares
how the source learns of a checkpoint: the `hook` source (server.py) is a Unix
socket that a child's `checkpoint(name)` calls report to; the `syscalls` source
(explorer/intercept/) holds an unmodified child at its file-system calls. factory.py
names the sources (`CHECKPOINT_MODES`) as it names the strategies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Arrival:
    """A child reached a checkpoint and waits to be let go."""

    child: int
    name: str
    is_yield: bool  # a spin wait: it retries something another child holds


@dataclass(frozen=True)
class SourceHooks:
    """What a source tells the scheduler."""

    on_arrival: Callable[[Arrival], None]
    on_disconnect: Callable[[int], None]  # no process of the child is left
    # A sign of life from a child that is not parked (a call let run at once): a child
    # busy outside the checkpoints is not blocked.
    on_activity: Callable[[int], None] = field(default=lambda child: None)


@dataclass(frozen=True)
class SourceSettings:
    """Where a source holds calls, for the modes that hold calls (the scenario's
    `[checkpoints]` table, its templates filled in by the runner)."""

    roots: tuple[str, ...] = ()  # absolute directories
    groups: tuple[str, ...] = ()  # call groups; empty: the mode's default


class CheckpointSource(Protocol):
    async def start(self) -> None:
        """Before any child of the block starts."""

    def child_env(self, child: int) -> dict[str, str]:
        """What a child's environment needs for its checkpoints to reach this source."""

    def wrap(self, child: int, argv: Sequence[str]) -> list[str]:
        """The command that runs `argv` as `child` with its checkpoints reaching here."""

    def release(self, child: int) -> None:
        """Let a parked child run on to its next checkpoint."""

    async def close(self) -> None:
        """After every child of the block is gone."""


SourceFactory = Callable[[SourceHooks, SourceSettings], CheckpointSource]


@dataclass(frozen=True)
class CheckpointMode:
    """A checkpoint source by name, with the scheduler settings that suit it."""

    name: str
    make: SourceFactory
    # Seconds a released child may go without a sign of life before it is declared blocked,
    # and before its first checkpoint.
    grace: float
    start_grace: float
    first_guess_steps: int  # PCT's k (the steps an iteration takes) unless --pct-steps
    # Why the mode cannot work on this machine, in one line; None when it can.
    unavailable: Callable[[], str | None] = field(default=lambda: None)
