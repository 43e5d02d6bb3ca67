"""A real failing trace for the explaining faces: the seed system's pull-vs-rm race.

Profile swamp-w2 on the reference CLI, forced by a script of decisions: the pull
extracts its files, the rm runs through its catalog and lockfile phases, then the
pull writes its lockfile entry and catalog rows after them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.core_helpers import record_scripted_race


@pytest.fixture(scope="session")
def race_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_scripted_race(tmp_path_factory.mktemp("race") / "run.jsonl")
