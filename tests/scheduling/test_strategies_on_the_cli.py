"""The strategies against the reference CLI: a seeded bug found at once, correct stays clean."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from explorer.events import Event, IterationFinished, ScheduleDecision
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario


def _run(tmp_path: Path, **options: object) -> tuple[int, list[Event]]:
    events: list[Event] = []
    runner = Runner(load_scenario(None),
                    RunOptions(trace_path=tmp_path / "run.jsonl", **options))  # type: ignore[arg-type]
    runner.handle_signals = False
    runner.subscribe(events.append)
    return asyncio.run(runner.run()).exit_code, events


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_a_torn_lockfile_is_seen_while_its_writer_is_parked(tmp_path: Path, strategy: str) -> None:
    # Every scheduling decision is taken with all children parked, and the stores are
    # looked at first: the half-written lockfile is caught in the first iteration.
    code, events = _run(tmp_path, iterations=1, bugs=["torn-lockfile-write"],
                        strategy=strategy, seed=0)
    first = next(e for e in events if isinstance(e, IterationFinished) and e.iteration == 1)
    assert code == 1
    assert any(b.invariant == "lockfile_parses" and b.is_failure for b in first.breaks)


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_correct_stays_clean_under_control(tmp_path: Path, strategy: str) -> None:
    code, events = _run(tmp_path, iterations=3, strategy=strategy, seed=5)
    assert code == 0, [b for e in events if isinstance(e, IterationFinished) for b in e.breaks]
    decisions = [e for e in events if isinstance(e, ScheduleDecision)]
    assert any(d.action == "run" for d in decisions)
