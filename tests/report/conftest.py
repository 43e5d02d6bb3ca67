"""A real failing trace for the explaining faces: the seed system's pull-vs-rm race.

Profile swamp-w2 on the reference CLI, forced by a script of decisions: the pull
extracts its files, the rm runs through its catalog and lockfile phases, then the
pull writes its lockfile entry and catalog rows after them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.scheduling.script import ScriptFactory

PULL_ALPHA, RM_ALPHA = 0, 2  # slots in the default scenario
RACE = [(PULL_ALPHA, "run")] * 2 + [(RM_ALPHA, "run")] * 5 + [(PULL_ALPHA, "run")] * 6


@pytest.fixture(scope="session")
def race_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trace = tmp_path_factory.mktemp("race") / "run.jsonl"
    options = RunOptions(seed=4, iterations=1, profile="swamp-w2", trace_path=trace)
    runner = Runner(load_scenario(None), options, scheduler_factory=ScriptFactory(1, RACE))
    runner.handle_signals = False
    finished = asyncio.run(runner.run())
    assert finished.exit_code == 1
    return trace
