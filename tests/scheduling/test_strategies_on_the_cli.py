"""The strategies against the reference CLI: a seeded bug found at once, correct stays clean."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from explorer.events import ChildStarted, Event, IterationFinished, ScheduleDecision
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


def test_children_past_the_concurrency_limit_are_not_declared_blocked(tmp_path: Path) -> None:
    # Only two run at once: the other two start later and must not be waited for, or
    # declared blocked, before they exist.
    import dataclasses

    scenario = dataclasses.replace(load_scenario(None), concurrency=2)
    events: list[Event] = []
    runner = Runner(scenario, RunOptions(trace_path=tmp_path / "run.jsonl", iterations=1,
                                         strategy="random", seed=3))
    runner.handle_signals = False
    runner.subscribe(events.append)
    assert asyncio.run(runner.run()).exit_code == 0
    started: set[int] = set()
    for event in events:
        if isinstance(event, ChildStarted) and event.iteration == 1:
            started.add(event.child)
        if isinstance(event, ScheduleDecision) and event.action == "blocked":
            assert event.chosen in started
