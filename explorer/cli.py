"""`race-explorer`: run a scenario (the app, or `--headless`), or replay a trace.

Exit codes (the README's table): 0 nothing unexplained broke, 1 something did,
2 usage or scenario errors and runs that cannot start, 65 a replayed trace had
unreadable lines (left out, named in a warning), 74 the trace cannot be written,
130 interrupted. The app is imported only when asked for, so headless
runs and CI never load Textual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

import explorer
from explorer.events import IterationStarted
from explorer.request import RunError, RunOptions, RunRequest
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
from explorer.scenario import Scenario, ScenarioError
from explorer.scheduling.factory import CHECKPOINT_MODES
from explorer.scheduling.strategies import STRATEGIES
from explorer.shard import per_seed_path, seed_plan
from explorer.shrink import script_of, shrunk_path, switches
from explorer.shrink import shrink as shrink_iteration
from explorer.trace import TraceError, TraceReader, replay_command, shrink_command, why_command
from explorer.visible import visible

EXIT_USAGE = 2
EXIT_TRACE_INCOMPLETE = 65  # sysexits' EX_DATAERR: the input data was (partly) bad
EXIT_INTERRUPTED = 130


def _fail(message: str) -> NoReturn:
    click.echo(f"race-explorer: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _tui(entry: str) -> Any:
    try:
        from explorer.tui import app
    except ImportError as exc:
        _fail(f"the interactive app is not available ({exc}); use --headless")
    return getattr(app, entry)


def _bugs(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [b.strip() for b in (value or "").split(",") if b.strip()]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--headless", is_flag=True, help="No app: progress and a summary, for CI.")
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Scenario TOML file (default: the seed's stress test).")
@click.option("--iterations", type=click.IntRange(min=0), help="Override the scenario's count.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--profile", help="The scenario's {profile}: the target's mode (the default "
              "scenario's: correct, swamp-w2).")
@click.option("--bugs", callback=_bugs,
              help="The scenario's {bugs}: seeded bugs to switch on, comma separated.")
@click.option("--trace", "trace_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to record (default .race-explorer/runs/<stamp>-<scenario>.jsonl).")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write JUnit XML here (headless).")
@click.option("--strategy", type=click.Choice(list(STRATEGIES)), default="os",
              show_default=True, help="Scheduling: how the children interleave.")
@click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True,
              help="PCT depth (priority change points + 1).")
@click.option("--checkpoints", type=click.Choice(list(CHECKPOINT_MODES)),
              help="Where checkpoints come from: hook (the target calls the checkpoint hook) "
              "or syscalls (its file-system calls, the target unmodified). Default: the "
              "scenario's [checkpoints] mode, else hook.")
@click.option("--kill-at", help="SIGKILL the first child reaching a checkpoint matching this "
              "glob (e.g. 'rename:*upstream_extensions.json').")
@click.option("--kill-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Kill a child at a scheduling decision with this probability.")
@click.option("--stall", multiple=True, metavar="GLOB=SECONDS",
              help="Delay fault: hold the first child chosen at a checkpoint matching GLOB, "
              "parked, for SECONDS while the others run (repeatable).")
@click.option("--delay-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Delay fault: hold a decision's child with this probability...")
@click.option("--max-delay", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, metavar="SECONDS", help="...for up to this many seconds.")
@click.option("--release-points", callback=_bugs, metavar="GLOBS",
              help="Checkpoints that follow a lock's release, comma separated (e.g. "
              "'*lock-released' or 'unlink:*.lock'): a spin-waiting child may get the next step.")
@click.option("--release-window", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="The chance the step after a release point is open to spin-waiting children.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Parent of the repo dir (default: a temporary dir, removed after).")
@click.option("--pct-steps", type=click.IntRange(min=1),
              help="PCT's k: the scheduling steps an iteration is expected to take "
              "(default: 30 with hook checkpoints, 350 with syscalls).")
@click.option("--shard", metavar="I/N",
              help="Do shard I of N of the iterations (of the seeds with --seeds); "
              "`race-explorer merge` puts the shards' traces together.")
@click.option("--seeds", metavar="A..B",
              help="A whole run per seed from A to B (headless; overrides --seed).")
@click.option("--max-time", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Start no iteration after this many seconds; the run ends cleanly.")
@click.version_option(explorer.__version__, prog_name="race-explorer")
@click.pass_context
def cli(
    ctx: click.Context,
    headless: bool,
    scenario_path: Path | None,
    iterations: int | None,
    seed: int,
    profile: str | None,
    bugs: list[str],
    trace_path: Path | None,
    junit_path: Path | None,
    strategy: str,
    depth: int,
    checkpoints: str | None,
    kill_at: str | None,
    kill_rate: float,
    stall: tuple[str, ...],
    delay_rate: float,
    max_delay: float,
    release_points: list[str],
    release_window: float,
    work_dir: Path | None,
    pct_steps: int | None,
    shard: str | None,
    seeds: str | None,
    max_time: float | None,
) -> None:
    """Run a scenario's children concurrently, watch them, check and record every iteration."""
    if ctx.invoked_subcommand is not None:
        return
    options = RunOptions(
        seed=seed, iterations=iterations, profile=profile, bugs=bugs, trace_path=trace_path,
        work_dir=work_dir, strategy=strategy, depth=depth, kill_at=kill_at, kill_rate=kill_rate,
        pct_steps=pct_steps, shard=shard, seeds=seeds, max_time=max_time,
        checkpoints=checkpoints, stall=list(stall), delay_rate=delay_rate, max_delay=max_delay,
        release_points=release_points, release_window=release_window,
    )
    try:
        request = RunRequest.load(scenario_path, options)  # a bad one stops before any UI
    except (ScenarioError, RunError) as exc:
        _fail(str(exc))
    if seeds and not headless:
        _fail("--seeds runs one whole run after another: use it with --headless")
    try:
        if seeds:
            code = _run_seeds(request, junit_path)
        elif headless:
            from explorer.headless import run_headless

            code = run_headless(request, junit_path)
        else:
            code = _tui("run_live")(request.scenario, request.options)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    ctx.exit(code)


def _run_seeds(request: RunRequest, junit_path: Path | None) -> int:
    """A job's seeds one after the other, a trace (and JUnit file) each; the worst exit code."""
    from explorer.headless import run_headless

    assert request.options.seeds is not None
    codes = []
    for seed in seed_plan(request.options.seeds, request.options.shard):
        trace = request.options.trace_path
        options = dataclasses.replace(
            request.options, seed=seed, trace_path=per_seed_path(trace, seed) if trace else None)
        one = dataclasses.replace(RunRequest.of(request.scenario, options), argv=request.argv)
        codes.append(run_headless(one, per_seed_path(junit_path, seed) if junit_path else None))
    return max(codes, default=0)


def _reader(trace: Path, iteration: int | None) -> TraceReader:
    try:
        reader = TraceReader(trace)
    except TraceError as exc:
        _fail(str(exc))
    if iteration is not None and iteration not in reader.iterations:
        _fail(f"{trace} has no iteration {iteration} (recorded: "
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
        _fail(str(exc))
    _warn_skipped(reader)
    return recorded


@cli.command()
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
        _fail("--app goes with --rerun (without it, replay opens the app anyway)")
    if open_app and headless:
        _fail("--app and --headless contradict each other")
    if why and (not headless or iteration is None or rerun):
        _fail("--why goes with --headless --iteration N (and without --rerun)")
    reader = _reader(trace, iteration)
    if why:
        assert iteration is not None
        _why(reader, iteration)
    if rerun:
        if iteration is None:
            _fail("--rerun needs --iteration N")
        assert iteration is not None
        code, last = asyncio.run(_rerun(reader, iteration, times))
        if not open_app or last is None or code == EXIT_INTERRUPTED:
            sys.exit(code)
        sys.exit(_tui("run_replay")(last, iteration=RERUN_ITERATION))
    if headless:
        from explorer.account import render

        render(reader, Console(soft_wrap=True), iteration)
        # After the account, once every line it needed was read: a skip makes it incomplete.
        sys.exit(EXIT_TRACE_INCOMPLETE if _warn_skipped(reader) else 0)
    sys.exit(_tui("run_replay")(trace, iteration=iteration))


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
            click.echo(f"  note: {Path(recorded.run.repo_dir).parent} is taken, so the reruns "
                       "run elsewhere: stores that keep absolute paths may not match")
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


@cli.command()
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
        _fail(f"iteration {iteration} of {trace} did not fail: nothing to shrink")
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


@cli.command()
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


@cli.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Where the summary (.txt, .md) and junit.xml go.")
def merge(traces: tuple[Path, ...], out: Path) -> None:
    """Merge the traces of a run's shards (--shard, --seeds): one summary, one JUnit file,
    one exit code (0 clean, 1 something failed, 2 not shards of one run, 65 a shard missing
    or damaged)."""
    from explorer.merge import MergeError, merge_traces, summary_lines, write_outputs

    try:
        merged = merge_traces(list(traces))
    except MergeError as exc:
        _fail(str(exc))
    write_outputs(merged, out)
    for line in summary_lines(merged):
        click.echo(visible(line))
    click.echo(f"written: {out / 'summary.txt'}, {out / 'summary.md'}, {out / 'junit.xml'}")
    sys.exit(merged.exit_code)


def main() -> None:
    # Not click's standalone mode: it turns a Ctrl-C outside a run into "Aborted!", exit 1.
    try:
        code = cli.main(prog_name="race-explorer", standalone_mode=False)
    except click.Abort:
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)
