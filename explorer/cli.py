"""`race-explorer`: run a scenario (the app, or `--headless`), or replay a trace.

Exit codes: 0 nothing unexplained broke, 1 something did, 2 usage or scenario
errors, 65 a replayed trace had unreadable lines (left out, named in a warning),
130 interrupted. The app is imported only when asked for, so headless
runs and CI never load Textual.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

import explorer
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
from explorer.shrink import script_of, switches
from explorer.shrink import shrink as shrink_iteration
from explorer.trace import TraceError, TraceReader, replay_command
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
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Parent of the repo dir (default: a temporary dir, removed after).")
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
    work_dir: Path | None,
) -> None:
    """Run a scenario's children concurrently, watch them, check and record every iteration."""
    if ctx.invoked_subcommand is not None:
        return
    options = RunOptions(
        seed=seed, iterations=iterations, profile=profile, bugs=bugs, trace_path=trace_path,
        work_dir=work_dir, strategy=strategy, depth=depth, kill_at=kill_at, kill_rate=kill_rate,
        checkpoints=checkpoints,
    )
    try:
        request = RunRequest.load(scenario_path, options)  # a bad one stops before any UI
    except (ScenarioError, RunError) as exc:
        _fail(str(exc))
    try:
        if headless:
            from explorer.headless import run_headless

            code = run_headless(request, junit_path)
        else:
            code = _tui("run_live")(request.scenario, request.options)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    ctx.exit(code)


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
def replay(trace: Path, headless: bool, iteration: int | None, rerun: bool, times: int) -> None:
    """Show a recorded run: the app on the trace, or a readable account with --headless."""
    reader = _reader(trace, iteration)
    if rerun:
        if iteration is None:
            _fail("--rerun needs --iteration N")
        assert iteration is not None
        code, last = asyncio.run(_rerun(reader, iteration, times))
        if headless or last is None:
            sys.exit(code)
        trace, iteration, reader = last, RERUN_ITERATION, _reader(last, RERUN_ITERATION)
    if headless:
        from explorer.account import render

        render(reader, Console(soft_wrap=True), iteration)
        # After the account, once every line it needed was read: a skip makes it incomplete.
        sys.exit(EXIT_TRACE_INCOMPLETE if _warn_skipped(reader) else 0)
    sys.exit(_tui("run_replay")(trace, iteration=iteration))


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
              help="At most this many candidate re-executions.")
def shrink(trace: Path, iteration: int, budget: int) -> None:
    """Find a smaller failing case: fewer children, fewer context switches."""
    reader = _reader(trace, iteration)
    recorded, scenario = _recorded(reader, iteration)
    if not recorded.failing:
        _fail(f"iteration {iteration} of {trace} did not fail: nothing to shrink")
    result = asyncio.run(shrink_iteration(recorded, scenario, budget=budget, progress=click.echo))
    if result is None:
        click.echo(f"iteration {iteration} does not fail the same way under its recorded "
                   "schedule: nothing to shrink")
        sys.exit(1)
    best = result.best
    click.echo("")
    click.echo(f"from {len(recorded.children)} children and "
               f"{switches(script_of(recorded.decisions))} context switches to "
               f"{len(best.children)} and {switches(script_of(best.decisions))} "
               f"({result.tried} candidates tried)")
    for brk in best.failing:
        click.echo(visible(f"  still breaks: {brk.invariant} [{brk.classification}] "
                           f"{brk.message}"))
    click.echo("the interleaving, one line a step:")
    click.echo(visible(describe_schedule(best.decisions, best.children)))
    click.echo(f"shrunk trace: {best.trace}")
    click.echo(f"re-execute it: {replay_command(best.trace, RERUN_ITERATION, rerun=True)}")
    click.echo(f"step through it: {replay_command(best.trace, RERUN_ITERATION)}")
    sys.exit(0)


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
