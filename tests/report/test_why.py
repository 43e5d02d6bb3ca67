"""The causal steps of a real recorded break, and `replay --headless --iteration N --why`."""

from __future__ import annotations

from pathlib import Path

from explorer.events import IterationFinished
from explorer.trace import TraceReader
from explorer.why import explain, timeline
from tests.core.core_helpers import run_explorer


def test_every_step_of_a_scheduled_iteration_is_one_child(race_trace: Path) -> None:
    steps, children = timeline(TraceReader(race_trace).iteration_events(1))
    assert [c.label for c in children][:3] == [
        "pull @stress/alpha@1.0.0", "pull @stress/beta", "rm @stress/alpha"]
    scheduled = [s for s in steps if s.action == "run"]
    assert len(scheduled) > 10 and all(len(s.children) == 1 for s in scheduled)
    # the first two decisions are the script's: the pull runs, from where it was parked
    assert scheduled[0].children == (0,) and scheduled[0].start[0] == "lockfile-read"
    assert any(c.store == "lockfile" and c.entity == "@stress/alpha"
               for s in steps for c in s.changes)


def test_the_why_names_the_children_that_touched_the_extension(race_trace: Path) -> None:
    events = TraceReader(race_trace).iteration_events(1)
    finished = next(e for e in events if isinstance(e, IterationFinished))
    [why] = explain(events)
    assert why.entity == "@stress/alpha"
    assert why.breaks == [b for b in finished.breaks if b.is_failure]
    labels = [c.label for c in why.children]
    assert "pull @stress/alpha@1.0.0" in labels and "rm @stress/alpha" in labels
    assert "pull @stress/beta" not in labels  # it never touched alpha
    assert all(c.entity == "@stress/alpha" for s in why.steps for c in s.changes)
    assert [s.number for s in why.steps] == sorted(s.number for s in why.steps)
    # the step that broke it is the rm dropping the lockfile entry the catalog still indexes
    [breaking] = [s for s in why.steps if s.number == why.breaking_step]
    assert breaking.children == (2,)
    assert ("lockfile", "no entry") in [(c.store, c.after) for c in breaking.changes]
    assert why.last_consistent is not None and why.first_broken is not None
    assert why.first_broken.view["lockfile"] == "no entry"
    assert why.last_consistent.view["lockfile"] != "no entry"
    assert [c.store for c in why.diff()] == ["lockfile"]


def test_replay_why_prints_the_causal_steps(race_trace: Path, tmp_path: Path) -> None:
    done = run_explorer("replay", str(race_trace), "--headless", "--iteration", "1", "--why",
                        cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "why: iteration 1 of" in out and "under its recorded schedule" in out
    assert "children that touched @stress/alpha: child 0 (pull @stress/alpha@1.0.0)" in out
    assert "pull @stress/beta" not in out.split("children that touched")[1].splitlines()[0]
    marked = [line for line in out.splitlines() if line.lstrip().startswith("▶ step")]
    assert len(marked) == 1 and "child 2 (rm @stress/alpha)" in marked[0]
    assert "lockfile 2.0.0 (2 files) → no entry" in marked[0]
    assert "  last consistent, after step " in out and "  first broken, after step " in out
    assert f"replay {race_trace} --iteration 1 --rerun" in out


def test_why_needs_headless_and_an_iteration(race_trace: Path, tmp_path: Path) -> None:
    done = run_explorer("replay", str(race_trace), "--why", cwd=tmp_path)
    assert done.returncode == 2
    assert "--why goes with --headless --iteration N" in done.stderr
