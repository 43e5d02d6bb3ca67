"""The commands over recorded traces: `replay` (the app, an account, `--why`, `--rerun`),
`shrink`, `report` and `merge`."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from explorer.cli_base import EXIT_INTERRUPTED, EXIT_TRACE_INCOMPLETE, app_entry, fail
from explorer.events import IterationStarted
from explorer.rerun import (
    RERUN_ITERATION,
    RecordedIteration,
    RerunError,
    describe_schedule,
    load_recorded,
    scenario_of,
    signature,
)
from explorer.rerun import rerun as rerun_iteration
from explorer.scenario import Scenario
from explorer.scenario_values import ScenarioError
from explorer.shrink import script_of, shrunk_path, switches
from explorer.shrink import shrink as shrink_iteration
from explorer.trace import TraceError, TraceReader, replay_command, shrink_command, why_command
from explorer.visible import visible


def _reader(trace: Path, iteration: int | None) -> TraceReader:
    try:
        reader = TraceReader(trace)
    except TraceError as exc:
        fail(str(exc))
    if iteration is not None and iteration not in reader.iterations:
        fail(f"{trace} has no iteration {iteration} (recorded: "
              f"{', '.join(map(str, reader.iterations)) or 'none'})")
    return reader


def _warn_skipped(reader: TraceReader) -> bool:
    """Say which lines the reader skipped in what it has read so far; True if any."""
    if reader.warning:
        click.echo(f"warning: {reader.warning}", err=True)
    return reader.warning is not None


def _recorded(reader: TraceReader, iteration: int) -> tuple[RecordedIteration, Scenario]:
    try:
        recorded = load_recorded(reader, iteration), scenario_of(reader)
    except (RerunError, ScenarioError) as exc:
        fail(str(exc))
    _warn_skipped(reader)
    return recorded


@click.command()
@click.argument("trace", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--headless", is_flag=True, help="Print an account instead of opening the app.")
@click.option("--iteration", type=click.IntRange(min=0),
              help="One block in full (0 setup, N+1 the final reconcile).")
@click.option("--rerun", is_flag=True,
              help="Re-execute the iteration from its recorded start under its recorded "
              "schedule and report whether it breaks the same way.")
@click.option("--times", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --rerun: how many re-executions.")
@click.option("--app", "open_app", is_flag=True,
              help="With --rerun: open the app on the last re-execution afterwards.")
@click.option("--why", is_flag=True,
              help="With --headless --iteration N: only the causal steps of its break (from "
              "its shrunk case when `shrink` made one).")
def replay(trace: Path, headless: bool, iteration: int | None, rerun: bool, times: int,
           open_app: bool, why: bool) -> None:
    """Show a recorded run: the app on the trace, or a readable account with --headless.

    With --rerun it re-executes an iteration and exits 0 when every re-execution broke the
    same way, 1 otherwise; it opens the app afterwards only when --app asks for it."""
    if open_app and not rerun:
        fail("--app goes with --rerun (without it, replay opens the app anyway)")
    if open_app and headless:
        fail("--app and --headless contradict each other")
    if why and (not headless or iteration is None or rerun):
        fail("--why goes with --headless --iteration N (and without --rerun)")
    reader = _reader(trace, iteration)
    if why:
        assert iteration is not None
        _why(reader, iteration)
    if rerun:
        if iteration is None:
            fail("--rerun needs --iteration N")
        assert iteration is not None
        code, last = asyncio.run(_rerun(reader, iteration, times))
        if not open_app or last is None or code == EXIT_INTERRUPTED:
            sys.exit(code)
        sys.exit(app_entry("run_replay")(last, iteration=RERUN_ITERATION))
    if headless:
        from explorer.account import render

        render(reader, Console(soft_wrap=True), iteration)
        # After the account, once every line it needed was read: a skip makes it incomplete.
        sys.exit(EXIT_TRACE_INCOMPLETE if _warn_skipped(reader) else 0)
    sys.exit(app_entry("run_replay")(trace, iteration=iteration))


def _why(reader: TraceReader, iteration: int) -> NoReturn:
    from explorer.account import why_account

    shrunk_trace = shrunk_path(reader.path, iteration)
    shrunk = _reader(shrunk_trace, None) if shrunk_trace.exists() else None
    console = Console(soft_wrap=True)
    why_account(reader, iteration, console, shrunk)
    click.echo("")
    click.echo(f"re-execute it: {replay_command(reader.path, iteration, rerun=True)}")
    if shrunk is None:
        click.echo(f"shrink it: {shrink_command(reader.path, iteration)}")
    incomplete = _warn_skipped(reader) or (shrunk is not None and _warn_skipped(shrunk))
    sys.exit(EXIT_TRACE_INCOMPLETE if incomplete else 0)


async def _rerun(reader: TraceReader, iteration: int, times: int) -> tuple[int, Path | None]:
    recorded, scenario = _recorded(reader, iteration)
    if not recorded.decisions:
        click.echo(f"note: iteration {iteration} was run under the os strategy: it has no "
                   "recorded schedule, so a rerun only repeats its start and children", err=True)
    expected = signature(recorded.breaks)
    click.echo(f"re-executing iteration {iteration} of {reader.path} from its recorded start "
               f"under its recorded schedule ({len(recorded.decisions)} decisions)")
    for brk in recorded.breaks:
        click.echo(visible(f"  recorded: {brk.invariant} [{brk.classification}] {brk.message}"))
    if not recorded.breaks:
        click.echo("  recorded: no break")
    same, last = 0, None
    for n in range(1, times + 1):
        outcome = await rerun_iteration(recorded, scenario)
        last = outcome.trace
        if outcome.moved and n == 1:
            click.echo(f"  note: {outcome.moved}, so the reruns run elsewhere: stores that "
                       "keep absolute paths may not match")
        if outcome.interrupted:
            click.echo(f"interrupted in rerun {n}/{times} (trace {outcome.trace}); "
                       f"reproduced {same}/{n - 1} before it")
            return EXIT_INTERRUPTED, last
        ok = signature(outcome.breaks) == expected
        same += ok
        click.echo(f"  rerun {n}/{times}: {'the same' if ok else 'NOT the same'} "
                   f"(trace {outcome.trace})")
        if not ok:
            for brk in outcome.breaks:
                click.echo(visible(f"    got: {brk.invariant} [{brk.classification}] "
                                   f"{brk.message}"))
            if not outcome.breaks:
                click.echo("    got: no break")
        for divergence in outcome.divergences:
            click.echo(f"    diverged from the recorded schedule at {divergence}")
    click.echo(f"reproduced {same}/{times}")
    return (0 if same == times else 1), last


@click.command()
@click.argument("trace", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--iteration", type=click.IntRange(min=1), required=True,
              help="The failing iteration to shrink.")
@click.option("--budget", type=click.IntRange(min=1), default=40, show_default=True,
              help="At most this many re-executions in all.")
@click.option("--tries", type=click.IntRange(min=1), default=3, show_default=True,
              help="Re-executions a candidate gets before it is said to pass.")
def shrink(trace: Path, iteration: int, budget: int, tries: int) -> None:
    """Find a smaller failing case: fewer children, fewer context switches."""
    reader = _reader(trace, iteration)
    recorded, scenario = _recorded(reader, iteration)
    if not recorded.failing:
        fail(f"iteration {iteration} of {trace} did not fail: nothing to shrink")
    result = asyncio.run(shrink_iteration(recorded, scenario, budget=budget, tries=tries,
                                          progress=click.echo))
    if result is None:
        click.echo(f"iteration {iteration} does not fail the same way under its recorded "
                   "schedule: nothing to shrink")
        sys.exit(1)
    best = result.best
    kept = shrunk_path(trace, iteration)
    shutil.copyfile(best.trace, kept)
    click.echo("")
    click.echo(f"from {len(recorded.children)} children and "
               f"{switches(script_of(recorded.decisions))} context switches to "
               f"{len(best.children)} and {switches(script_of(best.decisions))} "
               f"({result.tried} re-executions)")
    for line in result.conclusions():
        click.echo(f"  {line}")
    for brk in best.failing:
        click.echo(visible(f"  still breaks: {brk.invariant} [{brk.classification}] "
                           f"{brk.message}"))
    click.echo("the interleaving, one line a step (◆ the steps that matter: they changed what "
               "the break concerns; ▶ the one after which it was broken):")
    click.echo(visible(_marked_schedule(kept)))
    click.echo(f"shrunk trace: {kept}")
    click.echo(f"re-execute it: {replay_command(kept, RERUN_ITERATION, rerun=True)}")
    click.echo(f"why, step by step: {why_command(trace, iteration)}")
    click.echo(f"step through it: {replay_command(kept, RERUN_ITERATION)}")
    sys.exit(0)


def _marked_schedule(shrunk: Path) -> str:
    """The shrunk case's decisions, one a line, the causal ones marked with what they did."""
    from explorer.events import ScheduleDecision
    from explorer.why import explain

    events = TraceReader(shrunk).iteration_events(RERUN_ITERATION)
    whys = explain(events)
    changes = {s.number: [c.describe() for c in s.changes] for w in whys for s in w.steps
               if s.action != "free"}
    breaking = {w.breaking_step for w in whys}
    children = next((e.children for e in events if isinstance(e, IterationStarted)), [])
    decisions = [e for e in events if isinstance(e, ScheduleDecision)]
    lines = []
    for decision, line in zip(decisions, describe_schedule(decisions, children).splitlines(),
                              strict=True):
        mark = "▶" if decision.step in breaking else "◆" if decision.step in changes else " "
        said = "; ".join(changes.get(decision.step, []))
        lines.append(f"{mark}{line[1:]}" + (f": {said}" if said else ""))
    return "\n".join(lines)


@click.command()
@click.argument("traces", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="The HTML file to write.")
def report(traces: tuple[Path, ...], output: Path) -> None:
    """Write one self-contained HTML report of recorded runs (no network, no assets)."""
    from explorer.report import write_report

    for trace in traces:
        _reader(trace, None)  # not a trace at all: one line, exit 2
    write_report(output, list(traces))  # unreadable lines are named on the page
    click.echo(f"wrote {output.absolute()}")
    sys.exit(0)


@click.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Where the summary (.txt, .md), junit.xml and report.html go.")
def merge(traces: tuple[Path, ...], out: Path) -> None:
    """Merge the traces of a run's shards (--shard, --seeds): one summary, one JUnit file,
    one exit code (0 clean, 1 something failed, 2 not shards of one run, 65 a shard missing
    or damaged)."""
    from explorer.merge import (
        OUTPUT_FILES,
        MergeError,
        merge_traces,
        summary_lines,
        write_outputs,
    )

    try:
        merged = merge_traces(list(traces))
    except MergeError as exc:
        fail(str(exc))
    write_outputs(merged, out)
    for line in summary_lines(merged):
        click.echo(visible(line))
    written = ", ".join(str(out / name) for name in OUTPUT_FILES)
    click.echo(f"written: {written}")
    sys.exit(merged.exit_code)


TRACE_COMMANDS = (replay, shrink, report, merge)
