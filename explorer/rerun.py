"""Re-execute one recorded iteration: same starting state, same children, same schedule.

The iteration's `StateSnapshot(phase="start")` carries the repo dir as an
archive; a rerun is an ordinary run of the same scenario whose setup restores
that archive, with one iteration of the recorded children under a
`ReplayScheduler` (or, for the shrinker, a looser script). So a rerun leaves
its own trace, which the app opens like any other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from explorer.archive import ArchivePolicy
from explorer.event_json import event_from_json
from explorer.events import (
    Break,
    ChildSpec,
    Event,
    IterationFinished,
    IterationStarted,
    RunStarted,
    ScheduleDecision,
    StateSnapshot,
)
from explorer.runner import Runner, RunOptions
from explorer.scenario import Command, Scenario, load_scenario
from explorer.scheduling.base import SchedulerFactory
from explorer.scheduling.factory import CHECKPOINT_MODES, ReplayFactory
from explorer.scheduling.replay import ReplayScheduler
from explorer.trace import TraceReader, default_trace_path

RERUN_ITERATION = 1  # a rerun is a run of one iteration


class RerunError(Exception):
    """The trace lacks what a rerun needs (no starting state, an op the scenario lost)."""


@dataclass(frozen=True)
class RecordedIteration:
    trace: Path
    iteration: int
    run: RunStarted
    children: list[ChildSpec]
    archive: str
    decisions: list[ScheduleDecision]
    breaks: list[Break]

    @property
    def failing(self) -> list[Break]:
        return [b for b in self.breaks if b.is_failure]


@dataclass
class Outcome:
    """What one re-execution did."""

    trace: Path
    breaks: list[Break]
    decisions: list[ScheduleDecision]
    divergences: list[str]
    children: list[ChildSpec]
    interrupted: bool = False  # Ctrl-C or SIGTERM ended it: what follows should not run
    moved: str = ""  # why it ran in a new place, not at the recorded one ("": it did not)

    @property
    def failing(self) -> list[Break]:
        return [b for b in self.breaks if b.is_failure]


def signature(breaks: Sequence[Break]) -> list[tuple[str, str | None, str]]:
    """What "the same break" means: same invariant, same class, same message."""
    return sorted((b.invariant, b.classification, b.message) for b in breaks)


def _run_started(reader: TraceReader) -> RunStarted:
    with reader.path.open("rb") as f:
        f.readline()  # the header
        try:
            event = event_from_json(f.readline().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RerunError(f"{reader.path}: no readable run_started event") from exc
    if not isinstance(event, RunStarted):
        raise RerunError(f"{reader.path}: the trace does not start with run_started")
    return event


def load_recorded(reader: TraceReader, iteration: int) -> RecordedIteration:
    events = reader.iteration_events(iteration)
    started = next((e for e in events if isinstance(e, IterationStarted)), None)
    if started is None or started.block != "iteration":
        raise RerunError(f"block {iteration} of {reader.path} is not a concurrent iteration")
    archive = next(
        (e.archive for e in events if isinstance(e, StateSnapshot) and e.phase == "start"), None
    )
    if not archive:
        raise RerunError(f"iteration {iteration} of {reader.path} has no recorded start state")
    finished = next((e for e in events if isinstance(e, IterationFinished)), None)
    run = _run_started(reader)
    if run.checkpoints not in CHECKPOINT_MODES:
        raise RerunError(f"{reader.path}: recorded with checkpoints {run.checkpoints!r}, which "
                         f"this explorer does not know ({', '.join(CHECKPOINT_MODES)})")
    return RecordedIteration(
        trace=reader.path,
        iteration=iteration,
        run=run,
        children=started.children,
        archive=archive,
        decisions=[e for e in events if isinstance(e, ScheduleDecision)],
        breaks=finished.breaks if finished else [],
    )


def scenario_of(reader: TraceReader) -> Scenario:
    path = reader.header.get("scenario_path")
    return load_scenario(Path(path) if path else None)


def ops_for(scenario: Scenario, children: Sequence[ChildSpec]) -> list[Command]:
    """The scenario's commands behind recorded children, matched by label in order."""
    left = list(scenario.ops)
    chosen = []
    for child in children:
        match = next((op for op in left if op.label == child.label), None)
        if match is None:
            raise RerunError(f"the scenario has no op {child.label!r} any more")
        left.remove(match)
        chosen.append(match)
    return chosen


@contextlib.contextmanager
def recorded_place(repo_dir: str) -> Iterator[tuple[Path | None, str]]:
    """The recorded run's work dir, made for the rerun and removed after, when it can be: a
    target may keep absolute paths in its stores (swamp's catalog does), which a rerun
    elsewhere would not find. Else (None, why not): the rerun takes a temp dir."""
    work = Path(repo_dir).parent
    try:
        work.mkdir()  # only a dir made here is removed; never one that was there
    except FileExistsError:
        yield None, f"{work} is taken (another run's, or kept with --work-dir)"
        return
    except OSError as exc:
        yield None, f"{work} cannot be made ({exc.strerror or exc})"
        return
    try:
        yield work, ""
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def execute(
    recorded: RecordedIteration,
    scenario: Scenario,
    factory: SchedulerFactory,
    *,
    children: Sequence[ChildSpec] | None = None,
    trace_path: Path | None = None,
    handle_signals: bool = True,
) -> Outcome:
    """Run the recorded iteration's children (or a subset) from its starting state."""
    children = list(recorded.children if children is None else children)
    with tempfile.TemporaryDirectory(prefix="race-explorer-rerun-") as scratch, \
            recorded_place(recorded.run.repo_dir) as (place, elsewhere):
        archive = Path(scratch) / "start.tar.gz.b64"
        archive.write_text(recorded.archive, encoding="ascii")
        restore = Command(
            label=f"restore the start of iteration {recorded.iteration}",
            argv=("{python}", "-m", "explorer.restore", str(archive), "{repo}",
                  *(f"--include={g}" for g in scenario.archive.include),
                  *(f"--exclude={g}" for g in scenario.archive.exclude)),
        )
        # What the archive leaves out (a target's tooling inside the repo dir) comes from
        # the scenario's own setup; the restore then puts the rest back over it.
        partial = scenario.archive != ArchivePolicy()
        setup = (*scenario.setup, restore) if partial else (restore,)
        one = dataclasses.replace(
            scenario, setup=setup, ops=tuple(ops_for(scenario, children)), iterations=1
        )
        options = RunOptions(
            seed=recorded.run.seed,
            iterations=1,
            profile=recorded.run.profile,
            bugs=list(recorded.run.bugs),
            checkpoints=recorded.run.checkpoints,
            work_dir=place,
            trace_path=trace_path
            or default_trace_path(f"{scenario.name}-rerun-{recorded.iteration}"),
        )
        runner = Runner(one, options, scheduler_factory=factory)
        runner.handle_signals = handle_signals
        seen: list[Event] = []
        runner.subscribe(
            lambda e: seen.append(e) if getattr(e, "iteration", None) == RERUN_ITERATION else None
        )
        run = await runner.run()
    finished = next((e for e in seen if isinstance(e, IterationFinished)), None)
    started = next((e for e in seen if isinstance(e, IterationStarted)), None)
    divergences: list[str] = []
    if isinstance(factory, ReplayFactory):
        made = factory.made.get(RERUN_ITERATION)
        if isinstance(made, ReplayScheduler):
            divergences = made.divergences
    if finished is None:
        divergences.append("the iteration did not finish (setup failed or interrupted)")
    return Outcome(
        trace=runner.trace_path,
        breaks=finished.breaks if finished else [],
        decisions=[e for e in seen if isinstance(e, ScheduleDecision)],
        divergences=divergences,
        children=started.children if started else [],
        interrupted=run.interrupted,
        moved=elsewhere,
    )


async def rerun(
    recorded: RecordedIteration, scenario: Scenario, trace_path: Path | None = None
) -> Outcome:
    """Exact re-execution under the recorded schedule."""
    factory = ReplayFactory({RERUN_ITERATION: recorded.decisions}, recorded.run.checkpoints)
    return await execute(recorded, scenario, factory, trace_path=trace_path)


def describe_schedule(decisions: Sequence[ScheduleDecision], children: Sequence[ChildSpec]) -> str:
    """One line a step: which child, running which op, went on from (or died at) where."""
    labels = {c.child: c.label for c in children}
    lines = []
    for d in decisions:
        if d.action == "blocked":
            lines.append(f"  step {d.step:>3}  child {d.chosen} ({labels.get(d.chosen, '?')}) "
                         "is blocked outside a checkpoint; another child runs")
            continue
        at = dict(d.parked).get(d.chosen, "?")
        verb = {"run": "runs on from", "delay": f"is held {d.delay:g} s at"}.get(
            d.action, "is KILLED at")
        lines.append(f"  step {d.step:>3}  child {d.chosen} ({labels.get(d.chosen, '?')}) "
                     f"{verb} {at}")
    return "\n".join(lines)
