"""Where checkpoints come from: the seam between the controlled scheduler and a source.

A source tells the scheduler when a child arrives at a checkpoint and when it
is gone, and lets a parked child go on. The scheduler neither knows nor cares
how the source learns of a checkpoint: the `hook` source (server.py) is a Unix
socket that a child's `checkpoint(name)` calls report to. factory.py names the
sources (`CHECKPOINT_MODES`) as it names the strategies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Arrival:
    """A child reached a checkpoint and waits to be let go."""

    child: int
    name: str
    is_yield: bool  # a spin wait: it retries something another child holds


class CheckpointSource(Protocol):
    async def start(self) -> None:
        """Before any child of the block starts."""

    def child_env(self, child: int) -> dict[str, str]:
        """What a child's environment needs for its checkpoints to reach this source."""

    def release(self, child: int) -> None:
        """Let a parked child run on to its next checkpoint."""

    async def close(self) -> None:
        """After every child of the block is gone."""


# Made with the scheduler's two callbacks: a child arrived, a child is gone.
SourceFactory = Callable[[Callable[[Arrival], None], Callable[[int], None]], CheckpointSource]

