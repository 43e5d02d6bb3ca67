"""Kill faults: crash-recovery semantics on the reference CLI, and the tolerance rules."""

from __future__ import annotations

import asyncio
import fnmatch
from pathlib import Path

import pytest

from explorer.classify import classify, explained_by_kill
from explorer.events import (
    Break,
    ChildExited,
    ChildStarted,
    Event,
    IterationFinished,
    RunFinished,
    ScheduleDecision,
)
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario

from .harness import alive

PULL = ["python", "-m", "lifecycle", "extension", "pull", "@stress/alpha@1.0.0"]
UPDATE = ["python", "-m", "lifecycle", "extension", "update"]
KNOWN = {"@stress/alpha", "@stress/beta"}


def test_a_killed_child_explains_only_its_own_extension() -> None:
    alpha = Break("tree_matches_lockfile", "m", "@stress/alpha")
    beta = Break("tree_matches_lockfile", "m", "@stress/beta")
    assert explained_by_kill(alpha, [PULL], KNOWN)
    assert not explained_by_kill(beta, [PULL], KNOWN)
    assert explained_by_kill(beta, [UPDATE], KNOWN)  # an op over every extension
    assert not explained_by_kill(beta, [], KNOWN)


async def test_kills_are_tolerated_but_live_ones_are_not() -> None:
    """(Carried-over breaks are the judge's: tests/core/test_core_stores.py.)"""
    alpha = Break("catalog_matches_lockfile", "m", "@stress/alpha")
    beta = Break("catalog_matches_lockfile", "m", "@stress/beta")
    torn = Break("lockfile_parses", "while the children ran: torn", "@stress/alpha")

    async def nothing_heals() -> list[Break]:
        return [alpha, beta, torn]

    got = await classify([alpha, beta, torn], [], [], nothing_heals, killed=[PULL],
                         known=KNOWN, seen_live=[torn])
    assert [b.classification for b in got] == ["tolerated", "persistent", "persistent"]


def run_default(options: RunOptions) -> tuple[list[Event], RunFinished]:
    """The default scenario under these options: every event, and how the run ended."""
    events: list[Event] = []
    runner = Runner(load_scenario(None), options)
    runner.handle_signals = False
    runner.subscribe(events.append)
    return events, asyncio.run(runner.run())


def test_correct_profile_survives_kill_faults_and_the_reconcile_repairs(tmp_path: Path) -> None:
    events, finished = run_default(RunOptions(
        seed=1, iterations=3, strategy="random", kill_at="catalog-begin",
        trace_path=tmp_path / "kills.jsonl"))
    killed = [e for e in events if isinstance(e, ChildExited) and e.killed == "fault"]
    assert len(killed) == 3  # the first child to reach catalog-begin, in each iteration
    assert all(e.returncode == -9 for e in killed)
    pids = [e.pid for e in events if isinstance(e, ChildStarted)]
    assert pids and not any(alive(pid) for pid in pids)
    blocks = [e for e in events if isinstance(e, IterationFinished)]
    assert all(not b.is_failure for block in blocks for b in block.breaks), [
        b for block in blocks for b in block.breaks]
    assert isinstance(events[-1], RunFinished)
    assert finished.exit_code == 0


@pytest.mark.parametrize(("mode", "glob"), [
    ("hook", "catalog-b*"),
    ("syscalls", "rename:*upstream_extensions.json"),
])
def test_kill_at_takes_a_glob_in_both_checkpoint_modes(
    tmp_path: Path, mode: str, glob: str
) -> None:
    events, finished = run_default(RunOptions(
        seed=2, iterations=2, strategy="random", kill_at=glob, checkpoints=mode,
        trace_path=tmp_path / "kills.jsonl"))
    kills = [e for e in events if isinstance(e, ScheduleDecision) and e.action == "kill"]
    assert len(kills) == 2  # once an iteration
    for kill in kills:
        assert fnmatch.fnmatchcase(dict(kill.parked)[kill.chosen], glob)
    assert len([e for e in events if isinstance(e, ChildExited) and e.killed == "fault"]) == 2
    assert finished.exit_code == 0
