"""Rerun and shrink of a recorded failing iteration, on the reference CLI.

The failure is the seed system's pull-vs-rm race (profile swamp-w2), forced by a
script of decisions: the pull extracts its files, the rm then runs through its
catalog and lockfile phases, and the pull's lockfile and catalog writes land
after them — an Indexed row and files with no lockfile entry.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.events import ScheduleDecision
from explorer.rerun import load_recorded, rerun, scenario_of, signature
from explorer.shrink import shrink
from explorer.trace import TraceReader
from tests.core.core_helpers import RACE, RM_ALPHA, record_scripted_race


@pytest.fixture(scope="module")
def failing_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_scripted_race(tmp_path_factory.mktemp("recorded") / "run.jsonl")


def test_recorded_iteration_has_start_state_and_schedule(failing_trace: Path) -> None:
    recorded = load_recorded(TraceReader(failing_trace), 1)
    assert recorded.archive
    assert [c.label for c in recorded.children] == [
        "pull @stress/alpha@1.0.0", "pull @stress/beta", "rm @stress/alpha", "update"]
    assert [(d.chosen, d.action) for d in recorded.decisions][: len(RACE)] == RACE
    assert any(b.invariant == "catalog_matches_lockfile" for b in recorded.failing)


async def test_rerun_reproduces_the_same_break(failing_trace: Path) -> None:
    reader = TraceReader(failing_trace)
    recorded = load_recorded(reader, 1)
    for _ in range(3):
        outcome = await rerun(recorded, scenario_of(reader))
        assert outcome.divergences == []
        assert signature(outcome.breaks) == signature(recorded.breaks)
        assert [(d.chosen, d.action) for d in outcome.decisions] == [
            (d.chosen, d.action) for d in recorded.decisions]


async def test_rerun_under_another_schedule_does_not_fail(failing_trace: Path) -> None:
    # The same start with the rm run to its end first must not fail: the rerun really
    # follows the schedule it is given rather than the trace's verdict.
    reader = TraceReader(failing_trace)
    recorded = load_recorded(reader, 1)
    rm_first = sorted(recorded.decisions, key=lambda d: d.chosen != RM_ALPHA)
    renumbered: list[ScheduleDecision] = [
        dataclasses.replace(d, step=i + 1, parked=[]) for i, d in enumerate(rm_first)
    ]
    outcome = await rerun(dataclasses.replace(recorded, decisions=renumbered),
                          scenario_of(reader))
    assert [b for b in outcome.failing if b.invariant == "catalog_matches_lockfile"] == []


async def test_shrink_keeps_only_the_child_that_matters(failing_trace: Path) -> None:
    reader = TraceReader(failing_trace)
    recorded = load_recorded(reader, 1)
    lines: list[str] = []
    result = await shrink(recorded, scenario_of(reader), progress=lines.append)
    assert result is not None
    assert [c.label for c in result.best.children] == [
        "pull @stress/alpha@1.0.0", "rm @stress/alpha"]
    assert {b.invariant for b in result.best.failing} & {b.invariant for b in recorded.failing}
    assert "3 children (without pull @stress/beta)" in result.log
    # a candidate is only said to pass after every one of its tries passed
    passed = [a for a in result.attempts if not a.fails]
    assert passed and all(a.runs == result.tries == 3 for a in passed)
    assert "tried 1 child (without rm @stress/alpha): passes (3 of 3 tries)" in lines
    assert result.conclusions()[0] == (
        "2 children is the smallest: each of the 2 candidates with 1 child passed 3 of 3 tries")
    # the shrunk case is a trace of its own, and replays to the same break
    shrunk = load_recorded(TraceReader(result.best.trace), 1)
    again = await rerun(shrunk, scenario_of(reader))
    assert signature(again.breaks) == signature(result.best.breaks)



def _explorer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300)


def test_cli_rerun_reports_the_same_break(failing_trace: Path, tmp_path: Path) -> None:
    done = _explorer("replay", str(failing_trace), "--iteration", "1", "--rerun", "--headless",
                     "--times", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced 2/2" in done.stdout
    assert done.stdout.count(": the same (trace ") == 2


def test_cli_rerun_needs_an_iteration(failing_trace: Path, tmp_path: Path) -> None:
    done = _explorer("replay", str(failing_trace), "--rerun", "--headless", cwd=tmp_path)
    assert done.returncode == 2
    assert "--rerun needs --iteration N" in done.stderr


def test_cli_shrink_prints_the_interleaving_and_how_to_replay_it(
    failing_trace: Path, tmp_path: Path
) -> None:
    done = _explorer("shrink", str(failing_trace), "--iteration", "1", "--budget", "2",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the interleaving, one line a step (◆ the steps that matter" in done.stdout
    assert "(rm @stress/alpha) runs on from rm-catalog" in done.stdout
    assert "tried 3 children (without pull @stress/alpha@1.0.0): not settled, the budget of 2 " \
        "re-executions is spent" in done.stdout
    # the steps that changed alpha are marked with what they did to it
    assert re.search(r"^◆ step +\d+  child \d \(rm @stress/alpha\) runs on from catalog-commit: "
                     r"catalog @stress/alpha 1.0.0 Indexed → 1.0.0 Tombstoned$", done.stdout, re.M)
    assert len(re.findall(r"^▶ step", done.stdout, re.M)) == 1
    # replay --why now explains it from the shrunk case kept beside the trace
    why = _explorer("replay", str(failing_trace), "--headless", "--iteration", "1", "--why",
                    cwd=tmp_path)
    assert "why: the shrunk case of iteration 1" in why.stdout
    rerun_line = next(line for line in done.stdout.splitlines()
                      if line.startswith("re-execute it: "))
    assert rerun_line.endswith("--iteration 1 --rerun")


def test_a_candidate_breaking_the_invariant_on_another_extension_does_not_count() -> None:
    from explorer.events import Break
    from explorer.rerun import Outcome
    from explorer.shrink import _fails

    # Seen on the real swamp CLI: a one-child candidate broke catalog_matches_lockfile for
    # beta, from a state the smaller run reached differently, while the recorded break was
    # alpha's. The shrinker must not call that "still fails".
    target = {("catalog_matches_lockfile", "@stress/alpha")}

    def outcome(extension: str) -> Outcome:
        broke = Break("catalog_matches_lockfile", "no Indexed row", extension, "persistent")
        return Outcome(trace=Path("t.jsonl"), breaks=[broke], decisions=[], divergences=[],
                       children=[])

    assert not _fails(outcome("@stress/beta"), target)
    assert _fails(outcome("@stress/alpha"), target)
