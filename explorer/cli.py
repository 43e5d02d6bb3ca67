"""`race-explorer`: run a scenario (the app, or `--headless`), or replay a trace.

Exit codes: 0 nothing unexplained broke, 1 something did, 2 usage or scenario
errors, 130 interrupted. The app is imported only when asked for, so headless
runs and CI never load Textual.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

import explorer
from explorer.runner import RunError, RunOptions, make_scheduler_factory
from explorer.scenario import ScenarioError, load_scenario
from explorer.trace import TraceError, TraceReader

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fail(message: str) -> None:
    click.echo(f"race-explorer: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _tui(entry: str) -> Any:
    try:
        from explorer.tui import app
    except ImportError as exc:
        _fail(f"the interactive app is not available ({exc}); use --headless")
    func = getattr(app, entry, None)
    if func is None:
        _fail(f"the interactive app has no {entry}() yet; use --headless")
    return func


def _bugs(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [b.strip() for b in (value or "").split(",") if b.strip()]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--headless", is_flag=True, help="No app: progress and a summary, for CI.")
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Scenario TOML file (default: the seed's stress test).")
@click.option("--iterations", type=click.IntRange(min=0), help="Override the scenario's count.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--profile", help="LIFECYCLE_PROFILE for the reference CLI (correct, swamp-w2).")
@click.option("--bugs", callback=_bugs, help="Seeded bugs to switch on, comma separated.")
@click.option("--trace", "trace_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to record (default .race-explorer/runs/<stamp>-<scenario>.jsonl).")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write JUnit XML here (headless).")
@click.option("--strategy", default="os", show_default=True,
              help="Scheduling: os, random, pct.")
@click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True,
              help="PCT depth (priority change points + 1).")
@click.option("--kill-at", help="SIGKILL the first child reaching this checkpoint.")
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
    kill_at: str | None,
    kill_rate: float,
    work_dir: Path | None,
) -> None:
    """Run a scenario's children concurrently, watch them, check and record every iteration."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        scenario = load_scenario(scenario_path)
    except ScenarioError as exc:
        _fail(str(exc))
    options = RunOptions(
        seed=seed, iterations=iterations, profile=profile, bugs=bugs, trace_path=trace_path,
        work_dir=work_dir, strategy=strategy, depth=depth, kill_at=kill_at, kill_rate=kill_rate,
    )
    try:
        make_scheduler_factory(options)  # an unknown strategy is a usage error, before any UI
    except RunError as exc:
        _fail(str(exc))
    try:
        if headless:
            from explorer.headless import run_headless

            code = run_headless(scenario, options, junit_path)
        else:
            code = _tui("run_live")(scenario, options)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    ctx.exit(code)


@cli.command()
@click.argument("trace", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--headless", is_flag=True, help="Print an account instead of opening the app.")
@click.option("--iteration", type=click.IntRange(min=0),
              help="One block in full (0 setup, N+1 the final reconcile).")
def replay(trace: Path, headless: bool, iteration: int | None) -> None:
    """Show a recorded run: the app on the trace, or a readable account with --headless."""
    try:
        reader = TraceReader(trace)
    except TraceError as exc:
        _fail(str(exc))
    if reader.warning:
        click.echo(f"warning: {reader.warning}", err=True)
    if iteration is not None and iteration not in reader.iterations:
        _fail(f"{trace} has no iteration {iteration} (recorded: "
              f"{', '.join(map(str, reader.iterations)) or 'none'})")
    if headless:
        from explorer.account import render

        render(reader, Console(soft_wrap=True), iteration)
        sys.exit(0)
    run_replay = _tui("run_replay")
    if iteration is not None and "iteration" in inspect.signature(run_replay).parameters:
        sys.exit(run_replay(trace, iteration=iteration))
    sys.exit(run_replay(trace))


def main() -> None:
    cli(prog_name="race-explorer")
