"""Defects the store invariants miss, caught by the checks of the children's outcomes.

Each test runs the default scenario's checks, as a person would copy them, on a
defective variant of the reference CLI (tests/checker/variants), and asserts that
the new check catches the defect in iterations where the old checks saw nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from explorer.events import ChildOutput, Event, IterationFinished
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.scheduling.base import Scheduler, SchedulerFactory
from explorer.scheduling.controlled import ControlledScheduler
from explorer.scheduling.strategies import Parked, Strategy
from tests.checker.checker_helpers import variant_scenario
from tests.core.core_helpers import run_scenario

# The checks the default scenario had before children_succeed, evidence and serializable.
OLD = {"lockfile_parses", "catalog_matches_lockfile", "tree_matches_lockfile",
       "no_duplicate_type_error", "no_lock_exhaustion"}


class Preempt(Strategy):
    """The interleaving that shows the defect: `first` runs until it parks at `at`, then
    the others run as long as they can, then `first` again."""

    name = "preempt"

    def __init__(self, first: int, at: str) -> None:
        self.first, self.at, self.switched = first, at, False

    def choose(self, eligible: Sequence[Parked], step: int) -> int:
        mine = [p for p in eligible if p.child == self.first]
        self.switched = self.switched or any(p.name == self.at for p in mine)
        others = sorted(p.child for p in eligible if p.child != self.first)
        if (self.switched or not mine) and others:
            return others[0]
        return mine[0].child if mine else others[0]


class PreemptFactory(SchedulerFactory):
    strategy = "preempt"

    def __init__(self, first: int, at: str) -> None:
        self.first, self.at = first, at

    def for_block(self, iteration: int) -> Scheduler:
        return ControlledScheduler(lambda children: Preempt(self.first, self.at))


async def run_preempted(path: Path, tmp_path: Path, first: int, at: str) -> list[Event]:
    runner = Runner(load_scenario(path), RunOptions(trace_path=tmp_path / "trace.jsonl",
                                                    iterations=1),
                    scheduler_factory=PreemptFactory(first, at))
    runner.handle_signals = False
    events: list[Event] = []
    runner.subscribe(events.append)
    await runner.run()
    return events


def breaks_of(events: Sequence[Event], iteration: int) -> list[tuple[str, str]]:
    [block] = [e for e in events if isinstance(e, IterationFinished) and e.iteration == iteration]
    return [(b.invariant, b.message) for b in block.breaks]


async def caught(path: Path, tmp_path: Path, check: str, **options: object
                 ) -> list[IterationFinished]:
    """The iterations in which `check` broke; each must have no break of the old checks."""
    finished, events, _ = await run_scenario(path, tmp_path, **options)
    blocks = [e for e in events if isinstance(e, IterationFinished)]
    hits = [b for b in blocks if any(brk.invariant == check for brk in b.breaks)]
    for block in hits:
        old = [brk for brk in block.breaks if brk.invariant in OLD]
        assert old == [], f"the old checks saw this one too: {old}"
    assert finished.exit_code == (1 if hits else 0)
    return hits


async def test_a_pull_that_dies_with_exit_1_is_a_break(tmp_path: Path) -> None:
    # The pull releases its lock, the rm deletes the files, the pull looks at them.
    path = variant_scenario(tmp_path, "report-after-unlock",
                            ["pull @stress/alpha@1.0.0", "rm @stress/alpha"])
    breaks = breaks_of(await run_preempted(path, tmp_path, 0, "pull-report"), 1)
    assert [name for name, _ in breaks if name in OLD] == [], breaks
    [said] = [message for name, message in breaks if name == "children_succeed"]
    assert said.startswith("child 0 (pull @stress/alpha@1.0.0) exited 1, a failure the "
                           "scenario does not expect of it: error: [Errno 2] No such file")


async def test_damage_repaired_within_the_iteration_leaves_evidence(tmp_path: Path) -> None:
    # One op at a time: the rm leaves alpha 2.0.0's workflow file, the update sweeps it up.
    path = variant_scenario(tmp_path, "rm-keeps-workflows",
                            ["pull @stress/alpha", "rm @stress/alpha", "update"],
                            top="concurrency = 1")
    hits = await caught(path, tmp_path, "no_orphans_swept", iterations=2)
    assert [b.iteration for b in hits] == [1, 2]
    [brk] = [b for b in hits[0].breaks if b.invariant == "no_orphans_swept"]
    assert brk.extension == "@stress/alpha"
    assert brk.message == ("child 2 (update) reported (a file outlived its lockfile entry): "
                           "Removing orphan file @stress/alpha/workflows/alpha_sync.json "
                           "(no lockfile entry)")


async def test_a_lost_rm_with_agreeing_stores_is_not_serializable(tmp_path: Path) -> None:
    # The update reads the lockfile, the rm removes alpha, the update reinstalls it.
    path = variant_scenario(tmp_path, "update-trusts-first-read",
                            ["rm @stress/alpha", "update"])
    breaks = breaks_of(await run_preempted(path, tmp_path, 1, "ext-lock-request"), 1)
    assert [name for name, _ in breaks if name != "serializable"] == [], breaks
    [said] = [message for name, message in breaks]
    assert said.startswith(
        "no serial order of the 2 ops explains what each reported and the final state; the "
        "closest order explains 1 of 2; rm @stress/alpha → update: update reported "
        "'Updated @stress/alpha 1.0.0 -> 2.0.0', which the model does not expect (from "
        "{@stress/beta@1.0.0}: exit 0, /^(?:@stress/beta is up to date"), said


async def test_the_reference_cli_under_the_same_interleaving_is_serializable(
        tmp_path: Path) -> None:
    path = variant_scenario(tmp_path, "update-trusts-first-read", ["rm @stress/alpha", "update"])
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"-m", "variants", "update-trusts-first-read"', '"-m", "lifecycle"'), encoding="utf-8")
    events = await run_preempted(path, tmp_path, 1, "ext-lock-request")
    assert breaks_of(events, 1) == []
    said = [e.line for e in events
            if isinstance(e, ChildOutput) and e.iteration == 1 and e.child == 1]
    assert "@stress/alpha was removed meanwhile; skipped" in said
