"""A recorded run under a controlled scheduler in syscalls mode, built by hand: a lost update.

Iteration 1: #0 (pull @stress/alpha) opens the lockfile before #1 (pull @stress/beta)
renames its own into place, then renames its stale copy over it: the catalog indexes
@stress/beta, the lockfile no longer has it. #2 (rm @stress/alpha) runs too, but on
alpha only: the "why" of beta's break must leave it out. `write_shrunk` writes the
smaller case `shrink` would leave beside the trace: the same race in two steps.
"""

from __future__ import annotations

from pathlib import Path

from explorer.events import (
    Break,
    ChildExited,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    ScheduleDecision,
)
from explorer.rerun import RERUN_ITERATION
from explorer.shrink import shrunk_path
from tests.tui.sample_run import (
    INVARIANTS,
    OPS,
    REPO,
    SCENARIO,
    SEED,
    _lockfile,
    _Recorder,
    write_trace,
)

OPEN = "open:extensions/models/upstream_extensions.json"
RENAME = "rename:extensions/models/upstream_extensions.json"
LOST = "the catalog indexes @stress/beta@1.0.0 but the lockfile has no entry for @stress/beta"
CHILDREN = OPS[:3]


def _decide(rec: _Recorder, step: int, chosen: int, parked: dict[int, str]) -> None:
    rec.add(ScheduleDecision, step=step, parked=sorted(parked.items()), chosen=chosen,
            action="run")


def _iteration(rec: _Recorder, n: int, *, shrunk: bool) -> None:
    rec.iteration = n
    rec.add(IterationStarted, block="iteration", children=CHILDREN)
    rec.snapshot("start", {})
    for spec in CHILDREN:
        rec.child(spec.child, 5000 + spec.child)
    parked: dict[int, str] = {}
    step = 0

    def run(child: int, to: str | None) -> None:
        nonlocal step
        step += 1
        _decide(rec, step, child, parked)
        if to is None:
            rec.add(ChildExited, child=child, returncode=0)
            parked.pop(child, None)
        else:
            rec.at(child, to)
            parked[child] = to

    def look(installed: dict[str, str], locked: dict[str, str], lost: bool = False) -> None:
        rec.snapshot("live", installed, lockfile=_lockfile(locked))
        brk = [Break("catalog_matches_lockfile", LOST, "@stress/beta")] if lost else []
        rec.add(InvariantChecked, invariant="catalog_matches_lockfile", when="quiescent",
                phase="live", breaks=brk)

    if not shrunk:
        run(0, OPEN)  # reads the lockfile: still empty
        look({}, {})
    run(1, RENAME)
    look({"@stress/beta": "1.0.0"}, {"@stress/beta": "1.0.0"})
    run(0, RENAME)  # its stale copy, without beta
    both = {"@stress/alpha": "1.0.0", "@stress/beta": "1.0.0"}
    look(both, {"@stress/alpha": "1.0.0"}, lost=True)
    if not shrunk:
        run(2, None)  # removes alpha: nothing to do with beta
        look({"@stress/beta": "1.0.0"}, {}, lost=True)
    run(0, None)
    run(1, None)
    final = Break("catalog_matches_lockfile", LOST, "@stress/beta", "persistent")
    rec.snapshot("quiescent", {"@stress/beta": "1.0.0"},
                 lockfile=_lockfile({} if not shrunk else {"@stress/alpha": "1.0.0"}))
    rec.checks("quiescent", {"catalog_matches_lockfile": [final]})
    rec.add(IterationFinished, duration=0.5, verdict="failed", breaks=[final])


def _run(*, shrunk: bool) -> _Recorder:
    rec = _Recorder()
    rec.add(RunStarted, scenario=SCENARIO, scenario_path=None, seed=SEED, iterations=1,
            ops=CHILDREN, invariants=INVARIANTS, repo_dir=REPO, watched=["extensions/models"],
            strategy="random", checkpoints="syscalls")
    _iteration(rec, RERUN_ITERATION if shrunk else 1, shrunk=shrunk)
    rec.add(RunFinished, iterations=1, counts={"persistent": 1}, exit_code=1)
    return rec


def write_scheduled(path: Path) -> Path:
    return write_trace(path, _run(shrunk=False).events)


def write_shrunk(trace: Path, iteration: int = 1) -> Path:
    return write_trace(shrunk_path(trace, iteration), _run(shrunk=True).events)
