"""Delay faults: a parked child held for a wall-clock duration while the others run,
recorded in the schedule, replayed for the same duration, dropped by the shrinker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from explorer.events import Event, IterationFinished, ScheduleDecision
from explorer.rerun import load_recorded, rerun, scenario_of, signature
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.scheduling.factory import ControlledFactory, FaultOptions, ReplayFactory
from explorer.scheduling.script import ScriptFactory
from explorer.shrink import shrink
from explorer.trace import TraceReader
from tests.checker.test_checker_variants import variant_scenario

from .harness import run_block

THREE = [["a", "4"], ["b", "4"], ["c", "4"]]
# A lease of 0.5 s on the lockfile lock (tests/checker/variants): a holder stalled longer
# than that, between writing its new lockfile and renaming it into place, loses the lock.
LEASE_OPS = ["pull @stress/gamma@1.0.0", "rm @stress/alpha"]
STALL = "lockfile-writing=1.5"


def delays_of(events: list[Event]) -> list[ScheduleDecision]:
    return [e for e in events if isinstance(e, ScheduleDecision) and e.action == "delay"]


def held_long_enough(decisions: list[ScheduleDecision]) -> int:
    """Each held child runs again only once its delay is over; the steps others took
    meanwhile."""
    meanwhile = 0
    for held in (d for d in decisions if d.action == "delay"):
        [resumed] = [d for d in decisions if d.step > held.step and d.chosen == held.chosen][:1]
        assert resumed.action == "run"
        assert resumed.t >= held.t + held.delay - 0.01
        others = [d for d in decisions if held.step < d.step < resumed.step]
        assert all(d.chosen != held.chosen for d in others)
        meanwhile += len(others)
    return meanwhile


async def run_lease(tmp_path: Path, **options: object) -> tuple[list[Event], Path]:
    path = variant_scenario(tmp_path, "lockfile-lock-lease", LEASE_OPS)
    trace = tmp_path / "trace.jsonl"
    runner = Runner(load_scenario(path), RunOptions(  # type: ignore[arg-type]
        trace_path=trace, seed=1, iterations=1, strategy="random", **options))
    runner.handle_signals = False
    events: list[Event] = []
    runner.subscribe(events.append)
    await runner.run()
    return events, trace


def broken(events: list[Event]) -> set[str]:
    return {b.invariant for e in events if isinstance(e, IterationFinished) and e.iteration
            for b in e.breaks}


async def test_a_slow_lock_holder_is_missed_without_a_stall(tmp_path: Path) -> None:
    events, _ = await run_lease(tmp_path)
    assert delays_of(events) == []
    assert broken(events) == set()


async def test_a_stall_catches_the_lease_that_expires_under_a_slow_holder(
        tmp_path: Path) -> None:
    events, trace = await run_lease(tmp_path, stall=[STALL])
    [held] = delays_of(events)
    assert (held.delay, dict(held.parked)[held.chosen]) == (1.5, "lockfile-writing")
    held_long_enough([e for e in events if isinstance(e, ScheduleDecision)])
    # the other child took the expired lease and wrote; the held one then renamed its
    # lockfile over that write: the stores disagree
    assert {"tree_matches_lockfile", "catalog_matches_lockfile"} <= broken(events)

    # replayed: held as long at the same step, and the same break (the steps the other
    # child spins before the lease expires follow the clock, so they may differ by one)
    reader = TraceReader(trace)
    recorded = load_recorded(reader, 1)
    again = await rerun(recorded, scenario_of(reader))
    assert [(d.step, d.chosen, d.delay) for d in delays_of(list(again.decisions))] == [
        (held.step, held.chosen, 1.5)]
    held_long_enough(again.decisions)
    assert signature(again.breaks) == signature(recorded.breaks)


async def test_delays_hold_a_child_while_the_others_run(tmp_path: Path) -> None:
    faults = FaultOptions(delay_rate=0.3, max_delay=0.2)
    block = await run_block(ControlledFactory("random", 5, faults=faults).for_block(1),
                            tmp_path, THREE)
    assert len(block.log) == 12
    held = [d for d in block.decisions if d.action == "delay"]
    assert held and all(0 < d.delay <= 0.2 for d in held)
    held_long_enough(block.decisions)
    # the replay holds for the recorded durations at the recorded steps
    replayer = ReplayFactory({1: block.decisions})
    again = await run_block(replayer.for_block(1), tmp_path, THREE)
    assert again.log == block.log
    assert [(d.chosen, d.action, d.delay) for d in again.decisions] == [
        (d.chosen, d.action, d.delay) for d in block.decisions]
    held_long_enough(again.decisions)
    assert replayer.made[1].divergences == []


async def test_the_os_strategy_stalls_one_child_and_lets_the_others_run_free(
        tmp_path: Path) -> None:
    factory = ControlledFactory("os", 0, faults=FaultOptions(stalls=(("step-2", 1.0),)))
    block = await run_block(factory.for_block(1), tmp_path, THREE)
    assert len(block.log) == 12
    [held] = [d for d in block.decisions if d.action == "delay"]
    assert dict(held.parked)[held.chosen] == "step-2"
    assert held_long_enough(block.decisions) > 0  # the others ran on while it was held


async def test_shrink_drops_a_delay_the_failure_does_not_need(tmp_path: Path) -> None:
    # The pull-vs-rm race of test_rerun_shrink, with the rm held 0.2 s on its way: the
    # same interleaving, so the failure does not need the hold.
    pull, rm = 0, 2
    race = ([(pull, "run")] * 2 + [(rm, "delay", 0.2)] + [(rm, "run")] * 5
            + [(pull, "run")] * 6)
    trace = tmp_path / "run.jsonl"
    options = RunOptions(seed=4, iterations=1, profile="swamp-w2", trace_path=trace)
    runner = Runner(load_scenario(None), options,
                    scheduler_factory=ScriptFactory(1, race))  # type: ignore[arg-type]
    runner.handle_signals = False
    assert (await runner.run()).exit_code == 1
    reader = TraceReader(trace)
    recorded = load_recorded(reader, 1)
    assert [(d.chosen, d.delay) for d in recorded.decisions if d.action == "delay"] == [
        (rm, 0.2)]
    result = await shrink(recorded, scenario_of(reader), budget=1)
    assert result is not None
    assert result.log == ["0 delays (child 2's delay of 0.2 s dropped)"]
    assert [d for d in result.best.decisions if d.action == "delay"] == []


@pytest.mark.parametrize("stall", ["lockfile-writing", "=2", "x=0", "x=soon"])
def test_a_malformed_stall_is_one_line_and_exit_2(tmp_path: Path, stall: str) -> None:
    done = subprocess.run([sys.executable, "-m", "explorer", "--headless", "--strategy",
                           "random", "--stall", stall], cwd=tmp_path, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"race-explorer: --stall {stall!r}: expected CHECKPOINT_GLOB=SECONDS with SECONDS > 0 "
        "(e.g. 'lockfile-writing=1.5')"]

