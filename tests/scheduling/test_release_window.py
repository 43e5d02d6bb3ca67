"""The release window: right after a child passes a release point, a spin-waiting child
may take the next step, which the usual rule (spinners run last) never lets it do."""

from __future__ import annotations

import random
from pathlib import Path

from explorer.events import Event, IterationFinished, ScheduleDecision
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.scheduling.strategies import Parked, PctStrategy
from tests.checker.checker_helpers import variant_scenario

# alpha's upgrade holds the lockfile lock while beta's re-pull spins on it. Released, alpha
# is about to index 2.0.0; a waiter run now "recovers" alpha's entry away (the variant).
OPS = ["pull @stress/alpha@2.0.0", "pull @stress/beta"]


async def run_window(tmp_path: Path, table: str = "", **options: object) -> list[Event]:
    """One iteration; `table` is added to the scenario (its [checkpoints], say)."""
    path = variant_scenario(tmp_path, "waiter-recovers-the-holder", OPS)
    # the default scenario's expected failure names an rm these ops do not have
    path.write_text(path.read_text(encoding="utf-8").replace(
        'ops = ["rm @stress/alpha"]\n', "") + table, encoding="utf-8")
    runner = Runner(load_scenario(path), RunOptions(  # type: ignore[arg-type]
        trace_path=tmp_path / "trace.jsonl", seed=4, iterations=1, strategy="random",
        **options))
    runner.handle_signals = False
    events: list[Event] = []
    runner.subscribe(events.append)
    await runner.run()
    return events


def breaks(events: list[Event]) -> list[str]:
    return [b.message for e in events if isinstance(e, IterationFinished) and e.iteration == 1
            for b in e.breaks if b.invariant == "catalog_matches_lockfile"]


def after_release(events: list[Event]) -> list[str]:
    """Where the child chosen at the first decision after alpha's release was parked."""
    return [dict(d.parked)[d.chosen] for d in events if isinstance(d, ScheduleDecision)
            and d.iteration == 1 and "lock-released" in dict(d.parked).values()][:1]


async def test_without_the_window_the_waiter_only_runs_once_the_holder_is_done(
        tmp_path: Path) -> None:
    events = await run_window(tmp_path)
    assert after_release(events) == ["lock-released"]
    assert breaks(events) == []


async def test_the_window_gives_the_waiter_the_step_after_a_release(tmp_path: Path) -> None:
    events = await run_window(tmp_path, release_points=["*lock-released"], release_window=1.0)
    assert after_release(events) == ["lock-retry"]
    assert breaks(events) == [
        "the catalog indexes @stress/alpha@2.0.0 but the lockfile has no entry for "
        "@stress/alpha"]


WINDOW_TABLE = '\n[checkpoints]\nrelease_points = ["*lock-released"]\nrelease_window = 1.0\n'


async def test_the_scenario_can_declare_the_release_window(tmp_path: Path) -> None:
    events = await run_window(tmp_path, WINDOW_TABLE)
    assert after_release(events) == ["lock-retry"]
    assert len(breaks(events)) == 1


async def test_the_options_override_the_scenarios_release_window(tmp_path: Path) -> None:
    events = await run_window(tmp_path, WINDOW_TABLE, release_window=0.0)
    assert after_release(events) == ["lock-released"]
    events = await run_window(tmp_path, WINDOW_TABLE, release_points=["no-such-checkpoint"])
    assert after_release(events) == ["lock-released"]


def test_pct_keeps_a_spinners_priority_and_lets_spinners_take_turns() -> None:
    pct = PctStrategy(random.Random(0), [0, 1, 2], depth=1, expected_steps=10)
    top = max(pct.priorities, key=pct.priorities.__getitem__)
    others = sorted(c for c in pct.priorities if c != top)
    pct.note_yield(top)
    # after a release, the highest waiter goes, spinning or not
    assert pct.choose_waiter([Parked(c, "lock-retry", True) for c in [top, *others]], 1) == top
    # once it stops spinning it is the highest again, not last
    assert pct.choose([Parked(c, "step", False) for c in [top, *others]], 2) == top
    # spinners among themselves: the one that spun longest ago first
    pct.note_yield(others[0])
    pct.note_yield(others[1])
    spinners = [Parked(c, "lock-retry", True) for c in [top, *others]]
    assert [pct.choose(spinners, 3)] == [top]
    pct.note_yield(top)
    assert pct.choose(spinners, 4) == others[0]
