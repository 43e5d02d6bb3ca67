"""What a run is asked to do: the scenario's path and the options.

The command line builds it; `serve.py`'s process, which the app starts,
receives it as JSON and loads it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from explorer.scheduling.base import SchedulerFactory
from explorer.scheduling.factory import make_factory


class RunError(Exception):
    """The run cannot start: a service that never printed its URL, an unknown strategy."""


@dataclass
class RunOptions:
    seed: int = 0
    iterations: int | None = None  # overrides the scenario
    profile: str | None = None  # the scenario's {profile}: the target's mode, if it has modes
    bugs: list[str] = field(default_factory=list)  # the scenario's {bugs}: seeded defects
    trace_path: Path | None = None  # default .race-explorer/runs/<stamp>-<scenario>.jsonl
    work_dir: Path | None = None  # parent of the repo dir (a temp dir by default)
    strategy: str = "os"
    depth: int = 3
    kill_at: str | None = None
    kill_rate: float = 0.0

    def scheduler_factory(self) -> SchedulerFactory:
        try:
            return make_factory(self.strategy, self.seed, depth=self.depth,
                                kill_at=self.kill_at, kill_rate=self.kill_rate)
        except ValueError as exc:
            raise RunError(str(exc)) from exc
