"""`race-explorer`: run a scenario (the app, or `--headless`); the commands over recorded
traces (replay, shrink, report, merge) are in cli_traces.py, what they share in cli_base.py.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

import explorer
from explorer.cli_base import EXIT_INTERRUPTED, app_entry, fail
from explorer.cli_traces import TRACE_COMMANDS
from explorer.request import RunError, RunOptions, RunRequest
from explorer.scenario_values import ScenarioError
from explorer.scheduling.factory import CHECKPOINT_MODES
from explorer.scheduling.strategies import STRATEGIES
from explorer.shard import per_seed_path, seed_plan


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
              "'*lock-released' or 'unlink:*.lock'): a spin-waiting child may get the next step. "
              "Default: the scenario's [checkpoints] release_points, else none.")
@click.option("--release-window", type=click.FloatRange(0, 1),
              help="The chance the step after a release point is open to spin-waiting children. "
              "Default: the scenario's [checkpoints] release_window, else 0.5.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Parent of the repo dir (default: a temporary dir, removed after).")
@click.option("--pct-steps", type=click.IntRange(min=1),
              help="PCT's k: the scheduling steps an iteration is expected to take "
              "(default: the scenario's [checkpoints] pct_steps, else " + ", ".join(
                  f"{mode.first_guess_steps} with {name} checkpoints"
                  for name, mode in CHECKPOINT_MODES.items()) + ").")
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
    release_window: float | None,
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
        fail(str(exc))
    if seeds and not headless:
        fail("--seeds runs one whole run after another: use it with --headless")
    try:
        if seeds:
            code = _run_seeds(request, junit_path)
        elif headless:
            from explorer.headless import run_headless

            code = run_headless(request, junit_path)
        else:
            code = app_entry("run_live")(request.scenario, request.options)
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


for command in TRACE_COMMANDS:
    cli.add_command(command)


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
