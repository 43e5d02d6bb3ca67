"""A race inside one checkpoint-to-checkpoint step (issue 17, reason 6).

The variant `entry-with-the-files` (tests/checker/variants) writes the lockfile with
no lock: an install reads it, moves its files in and replaces it with its entry
added, and every other lockfile write is a read and a replace too. A write made by
another child between a read and its replace is lost. Every such read and its
replace lie between two of the hook's checkpoints; the scenario pulls alpha's two
versions (taking turns on alpha's lock) beside beta, so most iterations change an
entry that a lost write would show.

Both runs have the same strategy, seed and release window (every checkpoint a
release point, so a child the syscalls mode takes for a spin-waiter, a thread at the
same call twice in a row, still gets steps; bench/within_a_step.py measures what
this window changes); only where the checkpoints come from differs.
"""

from __future__ import annotations

from pathlib import Path

from explorer.control import RunControl
from explorer.events import Event, IterationFinished, ScheduleDecision
from explorer.rerun import load_recorded, rerun, scenario_of, signature
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.trace import TraceReader
from tests.checker.checker_helpers import within_a_step_scenario

SCHEDULING = {"strategy": "random", "seed": 2, "release_points": ["*"], "release_window": 0.5}
HOOK_ITERATIONS = 12
SYSCALLS_BUDGET = 10  # seed 2 found it at iteration 3 (bench/within_a_step.py)


async def run_until_a_failure(tmp_path: Path, iterations: int, top: str = "",
                              **options: object) -> tuple[list[Event], Path]:
    trace = tmp_path / "trace.jsonl"
    control = RunControl()
    runner = Runner(load_scenario(within_a_step_scenario(tmp_path, top)), RunOptions(
        trace_path=trace, iterations=iterations, **SCHEDULING, **options),  # type: ignore[arg-type]
        control=control)
    runner.handle_signals = False
    events: list[Event] = []
    runner.subscribe(events.append)
    runner.subscribe(lambda e: control.stop() if isinstance(e, IterationFinished)
                     and e.verdict == "failed" else None)
    await runner.run()
    return events, trace


async def test_one_op_at_a_time_the_variant_is_correct(tmp_path: Path) -> None:
    events, _ = await run_until_a_failure(tmp_path, 2, top="concurrency = 1")
    blocks = [e for e in events if isinstance(e, IterationFinished)]
    assert [b.verdict for b in blocks if b.iteration in (1, 2)] == ["clean", "clean"]


async def test_hook_checkpoints_cannot_reach_it(tmp_path: Path) -> None:
    """Missed by construction, not by luck: under controlled scheduling one child at a time
    runs from one checkpoint to its next, and each read and its replace lie within one such
    step, so no other child runs between them and no write is ever lost, whatever the
    strategy, seed or budget. The one way two children overlap is a child declared blocked
    (still running after the 0.5 s grace), which the run must not have needed. Nor is the
    miss for want of concurrency: the installs' steps were pending at once, each at its
    `lockfile-read`, and ran one after the other."""
    events, _ = await run_until_a_failure(tmp_path, HOOK_ITERATIONS)
    blocks = [e for e in events if isinstance(e, IterationFinished) and e.iteration >= 1]
    assert len(blocks) >= HOOK_ITERATIONS
    assert [b.breaks for b in blocks] == [[]] * len(blocks)
    decisions = [e for e in events if isinstance(e, ScheduleDecision)]
    assert not [d for d in decisions if d.action == "blocked"]
    assert any(len({child for child, at in d.parked if at == "lockfile-read"}) > 1
               for d in decisions)


async def test_syscall_checkpoints_find_it_and_the_rerun_repeats_it(tmp_path: Path) -> None:
    """Held at its file-system calls, an install's read, its file moves and its replace
    are points of their own: another install's replace can be scheduled in between."""
    events, trace = await run_until_a_failure(tmp_path, SYSCALLS_BUDGET, checkpoints="syscalls")
    [first] = [e for e in events if isinstance(e, IterationFinished) and e.verdict == "failed"]
    store_checks = {"catalog_matches_lockfile", "tree_matches_lockfile"}
    assert {b.invariant for b in first.breaks if b.is_failure} <= store_checks, first.breaks
    assert any(b.extension == "@stress/alpha" for b in first.breaks), first.breaks

    reader = TraceReader(trace)
    recorded = load_recorded(reader, first.iteration)
    again = await rerun(recorded, scenario_of(reader), tmp_path / "rerun.jsonl")
    assert again.divergences == []
    assert signature(again.breaks) == signature(recorded.breaks)
