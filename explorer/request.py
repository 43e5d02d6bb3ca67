"""What a run is asked to do: the scenario and the options, made once, sent as JSON.

The command line makes a `RunRequest` (`RunRequest.load`), headless runs it
in its own process; the app sends it (`to_json`) to `serve.py`'s process,
which loads it the same way (`from_json`). Each process parses the scenario
once; the trace path is decided here, once, before either runs.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.scenario import Scenario, load_scenario
from explorer.scheduling.base import SchedulerFactory
from explorer.scheduling.factory import FaultOptions, make_factory
from explorer.shard import Shard, parse_seeds
from explorer.trace import default_trace_path

_PATH_OPTIONS = ("trace_path", "work_dir")


class RunError(Exception):
    """The run cannot start: a service that never printed its URL, an unknown strategy."""

    exit_code = 2  # as a usage error


class CannotRecord(RunError):
    """The trace cannot be written (a full disk, a read-only dir): the run stopped."""

    exit_code = 74  # sysexits' EX_IOERR


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
    kill_at: str | None = None  # a glob of checkpoint names
    kill_rate: float = 0.0
    stall: list[str] = field(default_factory=list)  # "GLOB=SECONDS": hold the first child there
    delay_rate: float = 0.0  # each decision holds its child with this probability...
    max_delay: float = 1.0  # ...for up to this many seconds
    # Globs of the checkpoints after a release, and the chance a spin-waiter gets the step
    # after one; empty and None: the scenario's [checkpoints] release_points and window.
    release_points: list[str] = field(default_factory=list)
    release_window: float | None = None
    pct_steps: int | None = None  # PCT's k (None: the mode's); fixed, so shards decide alike
    shard: str | None = None  # "I/N": this job's share of the iterations (or of the seeds)
    seeds: str | None = None  # "A..B": a whole run per seed (the CLI runs them one by one)
    max_time: float | None = None  # seconds: start no iteration after this
    checkpoints: str | None = None  # hook or syscalls; None: the scenario's [checkpoints] mode

    def checkpoint_mode(self, scenario: Scenario) -> str:
        return self.checkpoints or scenario.checkpoints.mode

    def scheduler_factory(self, scenario: Scenario) -> SchedulerFactory:
        try:
            return make_factory(self.strategy, self.seed, depth=self.depth,
                                kill_at=self.kill_at, kill_rate=self.kill_rate,
                                pct_steps=self.pct_steps,
                                checkpoints=self.checkpoint_mode(scenario),
                                faults=self.fault_options(scenario))
        except ValueError as exc:
            raise RunError(str(exc)) from exc

    def fault_options(self, scenario: Scenario) -> FaultOptions:
        """Delay faults and the release window; ValueError naming a malformed --stall."""
        given = scenario.checkpoints
        window = given.release_window if self.release_window is None else self.release_window
        return FaultOptions.of(self.stall, self.delay_rate, self.max_delay,
                               self.release_points or given.release_points, window)

    def to_dict(self) -> dict[str, Any]:
        return {name: str(value) if isinstance(value, Path) else value
                for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunOptions:
        paths = {name: Path(values[name]) for name in _PATH_OPTIONS if values.get(name)}
        return cls(**{**values, **paths})


def trace_path_of(scenario: Scenario, options: RunOptions) -> Path:
    """Where the run records: the one place the default is decided."""
    return options.trace_path or default_trace_path(scenario.name)


@dataclass(frozen=True)
class RunRequest:
    scenario: Scenario
    options: RunOptions  # its trace_path decided
    argv: tuple[str, ...] = ()  # the user's command, for the trace's header

    @classmethod
    def of(cls, scenario: Scenario, options: RunOptions) -> RunRequest:
        options = dataclasses.replace(options, trace_path=trace_path_of(scenario, options))
        return cls(scenario, options, tuple(sys.argv))

    @classmethod
    def load(cls, scenario_path: Path | None, options: RunOptions) -> RunRequest:
        """Parse the scenario and check the options against it; ScenarioError, RunError."""
        request = cls.of(load_scenario(scenario_path), options)
        request.check()
        return request

    def check(self) -> None:
        """RunError if the options ask for something this scenario cannot do."""
        self.options.scheduler_factory(self.scenario)
        try:
            if self.options.shard:
                Shard.parse(self.options.shard)
            if self.options.seeds:
                parse_seeds(self.options.seeds)
        except ValueError as exc:
            raise RunError(str(exc)) from exc
        given = {"profile": self.options.profile, "bugs": self.options.bugs}
        for name, value in given.items():
            if value and name not in self.scenario.uses:
                raise RunError(f"--{name} has no effect: scenario {self.scenario.name} uses no "
                               f"{{{name}}} placeholder")

    def to_json(self) -> str:
        path = str(self.scenario.path.resolve()) if self.scenario.path else None
        return json.dumps({"scenario": path, "options": self.options.to_dict(),
                           "argv": list(self.argv)})

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        data = json.loads(text)
        scenario_path = Path(data["scenario"]) if data["scenario"] else None
        request = cls.load(scenario_path, RunOptions.from_dict(data["options"]))
        return dataclasses.replace(request, argv=tuple(data["argv"]))
