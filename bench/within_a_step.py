"""A race inside one checkpoint-to-checkpoint step: how often each mode finds it.

The defective variant `entry-with-the-files` (tests/checker/variants) does every
lockfile read-modify-write between two of the hook's checkpoints, so in hook
mode no other child runs between its read and its replace; syscall checkpoints
hold the calls in between. Each mode x strategy x seed runs the checker tests'
scenario of that variant until its first failing iteration or the budget, and
the table gives per mode and strategy the detection rate over the seeds, the
median iterations to the first failure among the seeds that found it, and the
median wall time of an iteration. `--windows` adds runs with every checkpoint a
release point, so a child taken for a spin-waiter (which runs last) may get the step
after any checkpoint: syscalls mode needed that while it took a thread at the same
checkpoint name twice in a row for a spinner (SQLite's lock pairs), and no longer does.
The README's table is two runs into one file:

    .venv/bin/python bench/within_a_step.py --jobs 2 --out results.jsonl
    .venv/bin/python bench/within_a_step.py --modes syscalls --windows 0.5 --jobs 2 \
        --out results.jsonl
    .venv/bin/python bench/within_a_step.py --table results.jsonl

Options: --seeds 1..10, --budget 30, --modes hook,syscalls, --strategies random,pct,
--windows 0 (comma separated; 0: none), --jobs 1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cells import add_result_options, read_results, run_cells  # noqa: E402  (bench/, beside this script)

from explorer.control import RunControl  # noqa: E402
from explorer.events import Event, IterationFinished  # noqa: E402
from explorer.runner import Runner, RunOptions  # noqa: E402
from explorer.scenario import load_scenario  # noqa: E402
from explorer.shard import parse_seeds  # noqa: E402
from tests.checker.checker_helpers import within_a_step_scenario  # noqa: E402


async def first_failure(mode: str, strategy: str, seed: int, budget: int, window: float,
                        scratch: Path) -> dict[str, Any]:
    scenario = load_scenario(within_a_step_scenario(scratch))
    # A window of 0 keeps the schedulers' rule that a spinning child runs last; above 0,
    # every checkpoint counts as a release point, so a child at a repeated call (taken for
    # a spin) gets the next step with that chance.
    points = ["*"] if window else []
    options = RunOptions(seed=seed, iterations=budget, strategy=strategy, checkpoints=mode,
                         release_points=points, release_window=window,
                         trace_path=scratch / "trace.jsonl")
    control = RunControl()
    finished: list[IterationFinished] = []

    def watch(event: Event) -> None:
        if isinstance(event, IterationFinished) and 1 <= event.iteration <= budget:
            finished.append(event)
            if event.verdict == "failed":
                control.stop()

    runner = Runner(scenario, options, control=control)
    runner.handle_signals = False
    runner.subscribe(watch)
    start = time.monotonic()
    await runner.run()
    failed = [e for e in finished if e.verdict == "failed"]
    return {"mode": mode, "strategy": strategy, "seed": seed, "budget": budget, "window": window,
            "found_at": failed[0].iteration if failed else None,
            "checks": sorted({b.invariant for b in failed[0].breaks if b.is_failure})
            if failed else [],
            "iterations": len(finished),
            "iteration_seconds": round(statistics.median(e.duration for e in finished), 2)
            if finished else None,
            "seconds": round(time.monotonic() - start, 2)}


def run_cell(mode: str, strategy: str, seed: int, budget: int, window: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="within-a-step-") as scratch:
        return asyncio.run(first_failure(mode, strategy, seed, budget, window, Path(scratch)))


def table(results: list[dict[str, Any]]) -> list[str]:
    budget = max((r["budget"] for r in results), default=0)
    lines = [f"detection rate over the seeds (median iterations to the first failure among "
             f"those found; median seconds an iteration), budget {budget}", "",
             "| mode | window | strategy | found | median iterations | s / iteration "
             "| checks broken |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- |"]
    keys = sorted({(r["mode"], r.get("window", 0), r["strategy"]) for r in results})
    for mode, window, strategy in keys:
        mine = [r for r in results
                if (r["mode"], r.get("window", 0), r["strategy"]) == (mode, window, strategy)]
        hits = [r["found_at"] for r in mine if r["found_at"] is not None]
        median = f"{statistics.median(hits):g}" if hits else "-"
        per = statistics.median(r["iteration_seconds"] for r in mine if r["iteration_seconds"])
        checks = sorted({c for r in mine for c in r["checks"]})
        lines.append(f"| {mode} | {window:g} | {strategy} | {len(hits)}/{len(mine)} | {median} | "
                     f"{per:.2f} | {', '.join(checks)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1..10")
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--modes", default="hook,syscalls")
    parser.add_argument("--strategies", default="random,pct")
    parser.add_argument("--windows", default="0",
                        help="release windows to try, comma separated (0: none)")
    parser.add_argument("--jobs", type=int, default=1, help="processes at once")
    add_result_options(parser)
    args = parser.parse_args()
    if args.table:
        print("\n".join(table(read_results(args.table))))
        return
    cells = [(mode, strategy, seed, args.budget, float(window))
             for mode in args.modes.split(",") for window in args.windows.split(",")
             for strategy in args.strategies.split(",") for seed in parse_seeds(args.seeds)]
    results = run_cells(run_cell, cells, args.jobs, args.out)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
