"""Stepping one scheduling decision at a time, and child timeouts that do not count the wait."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from explorer.children import ProcessGroups, run_child
from explorer.events import CheckpointReached, Event, RunStarted, ScheduleDecision
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario

HELD_LONG_ENOUGH = 1.0  # free decisions come within milliseconds of the last park


async def test_held_decisions_wait_for_the_face_and_then_flow(tmp_path: Path) -> None:
    options = RunOptions(seed=2, iterations=1, strategy="random", work_dir=tmp_path,
                         trace_path=tmp_path / "run.jsonl")  # fmt: skip
    runner = Runner(load_scenario(None), options)
    runner.handle_signals = False
    control = runner.control
    all_parked, decided = asyncio.Event(), asyncio.Event()
    parked: set[int] = set()
    decisions: list[ScheduleDecision] = []

    def watch(event: Event) -> None:
        if isinstance(event, RunStarted):
            control.hold_decisions()
        elif isinstance(event, CheckpointReached) and event.iteration == 1:
            parked.add(event.child)
            if len(parked) == 4:
                all_parked.set()
        elif isinstance(event, ScheduleDecision) and event.iteration == 1:
            decisions.append(event)
            decided.set()

    runner.subscribe(watch)
    run = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(all_parked.wait(), 60)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(decided.wait(), HELD_LONG_ENOUGH)
        assert not decisions, "a decision was made while decisions were held"
        control.one_decision()
        await asyncio.wait_for(decided.wait(), 30)
        assert len(decisions) == 1 and decisions[0].action == "run"
        control.release_decisions()
        finished = await asyncio.wait_for(run, 120)
        assert finished.exit_code == 0 and len(decisions) > 1
    finally:
        if not run.done():  # a failed assertion: leave no child behind
            runner.interrupt()
            await asyncio.gather(run, return_exceptions=True)
    assert control.held_seconds() > HELD_LONG_ENOUGH / 2  # counted, for the timeouts


async def test_a_child_timeout_does_not_count_the_seconds_decisions_were_held() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    argv = [sys.executable, "-c", "import time; time.sleep(0.6)"]
    # Held the whole time (the child parked at a held decision): the timeout never runs out.
    held = await run_child(argv, env={}, cwd=None, timeout=0.2, groups=ProcessGroups(),
                           held=lambda: loop.time() - start)  # fmt: skip
    assert held.returncode == 0 and held.killed is None
    free = await run_child(argv, env={}, cwd=None, timeout=0.2, groups=ProcessGroups())
    assert free.killed == "timeout"
