"""Calibration: how often, and how soon, each strategy finds each seeded bug.

Every target (the `swamp-w2` profile and each seeded bug of the reference CLI)
x strategy x checkpoint mode x seed runs the default scenario (the collision
scenario for `no-duplicate-rollback`) until its first failing iteration or the
budget. Printed per target and strategy: the detection rate over the seeds and
the median iterations to the first failure among the seeds that found it, with
PCT's bound beside them: for n children, k expected steps and depth d, at
least 1/(n k^(d-1)) an iteration, so 1-(1-p)^budget within the budget.

The cells are independent runs, so they shard: `--jobs` processes on one
machine (each cell a process of its own), `--shard I/N` of the cells for a CI
job, each writing its results as JSON lines (`--out`); `--table FILE...`
prints the table from the result files of every job. A checkpoint mode the
explorer does not offer yet is skipped with a note.

    .venv/bin/python bench/find_bugs.py [--seeds 1..10] [--budget 50] [--jobs 2]
        [--strategies os,random,pct] [--modes hook,syscalls] [--out results.jsonl]
    .venv/bin/python bench/find_bugs.py --table results-*.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from explorer.control import RunControl
from explorer.events import Event, IterationFinished
from explorer.request import RunOptions
from explorer.runner import Runner
from explorer.scenario import load_scenario
from explorer.scheduling.factory import CHECKPOINT_MODES
from explorer.shard import Shard, parse_seeds

PCT_STEPS = CHECKPOINT_MODES["hook"].first_guess_steps  # the k of the hook-mode runs
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from cells import add_result_options, read_results, run_cells  # noqa: E402  (bench/, beside this script)
from lifecycle.faults import BUGS  # noqa: E402

HERE = Path(__file__).resolve().parent
STRATEGIES = ("os", "random", "pct")
MODES = ("hook", "syscalls")
CHILDREN = 4  # both scenarios run four ops at once
DEPTH = 3


@dataclasses.dataclass(frozen=True)
class Cell:
    target: str
    strategy: str
    mode: str
    seed: int


def targets() -> dict[str, tuple[str | None, list[str], str | None]]:
    """Each target: its profile, its bugs, its scenario file (None: the default)."""
    rows: dict[str, tuple[str | None, list[str], str | None]] = {
        "profile swamp-w2": ("swamp-w2", [], None)}
    for bug in BUGS:
        scenario = str(HERE / "collision.toml") if bug == "no-duplicate-rollback" else None
        rows[bug] = (None, [bug], scenario)
    rows["profile correct (no bug)"] = ("correct", [], None)  # must stay at 0
    return rows


def offered_modes() -> set[str]:
    """The checkpoint modes this explorer's RunOptions take (hook always: the protocol)."""
    names = {f.name for f in dataclasses.fields(RunOptions)}
    if "checkpoints" not in names:
        return {"hook"}
    from explorer.scheduling.factory import CHECKPOINT_MODES

    return set(CHECKPOINT_MODES)


async def _first_failure(cell: Cell, budget: int, trace: Path) -> tuple[int | None, list[str]]:
    """The first failing iteration (None: none within the budget) and the checks it broke."""
    profile, bugs, scenario_path = targets()[cell.target]
    scenario = load_scenario(Path(scenario_path) if scenario_path else None)
    extra = {"checkpoints": cell.mode} if cell.mode != "hook" else {}
    options = RunOptions(seed=cell.seed, iterations=budget, profile=profile, bugs=bugs,
                         strategy=cell.strategy, trace_path=trace, **extra)
    control = RunControl()
    found: list[IterationFinished] = []

    def watch(event: Event) -> None:
        if isinstance(event, IterationFinished) and event.verdict == "failed" and (
                1 <= event.iteration <= budget) and not found:
            found.append(event)
            control.stop()

    runner = Runner(scenario, options, control=control)
    runner.handle_signals = False
    runner.subscribe(watch)
    await runner.run()
    if not found:
        return None, []
    return found[0].iteration, sorted({b.invariant for b in found[0].breaks if b.is_failure})


def run_cell(cell: Cell, budget: int) -> dict[str, Any]:
    """One cell in this process (a pool worker); its trace is removed after."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="find-bugs-") as scratch:
        at, checks = asyncio.run(_first_failure(cell, budget, Path(scratch) / "trace.jsonl"))
    return {**dataclasses.asdict(cell), "budget": budget, "found_at": at, "checks": checks,
            "seconds": round(time.monotonic() - start, 2)}


def pct_bound(budget: int, k: int = PCT_STEPS, depth: int = DEPTH) -> str:
    p = 1 / (CHILDREN * k ** (depth - 1))
    return f"1/{round(1 / p)} an iteration, {1 - (1 - p) ** budget:.1%} in {budget}"


def table(results: list[dict[str, Any]]) -> list[str]:
    cells: dict[tuple[str, str, str], list[int | None]] = {}
    budget = max((r["budget"] for r in results), default=0)
    for r in results:
        cells.setdefault((r["target"], r["mode"], r["strategy"]), []).append(r["found_at"])
    modes = sorted({m for _, m, _ in cells}, key=MODES.index)
    lines = [f"detection rate over the seeds (median iterations to the first failure among "
             f"those found), budget {budget}; PCT bound (n={CHILDREN}, k={PCT_STEPS}, "
             f"d={DEPTH}): {pct_bound(budget)}", ""]
    head = "| target | " + " | ".join(f"{s} ({m})" for m in modes for s in STRATEGIES) + " |"
    lines += [head, "| --- |" + " ---: |" * (len(modes) * len(STRATEGIES))]
    for target in targets():
        row = []
        for mode in modes:
            for strategy in STRATEGIES:
                found = cells.get((target, mode, strategy))
                if not found:
                    row.append("")
                    continue
                hits = [f for f in found if f is not None]
                median = f" ({statistics.median(hits):g})" if hits else ""
                row.append(f"{len(hits)}/{len(found)}{median}")
        lines.append(f"| {target} | " + " | ".join(row) + " |")
    return lines + [""] + checks_table(results)


def checks_table(results: list[dict[str, Any]]) -> list[str]:
    """Per target, a column per check: in how many of the runs that found a failure that check
    was among those the first failing iteration broke (runs of older result files, which did
    not record their checks, are left out)."""
    found = [r for r in results if r["found_at"] is not None and "checks" in r]
    checks = sorted({c for r in found for c in r["checks"]})
    if not checks:
        return []
    lines = ["which checks the first failing iteration broke, over the runs that found one:", "",
             "| target | runs | " + " | ".join(checks) + " |",
             "| --- | ---: |" + " ---: |" * len(checks)]
    for target in targets():
        mine = [r for r in found if r["target"] == target]
        if mine:
            counts = [sum(check in r["checks"] for r in mine) for check in checks]
            lines.append(f"| {target} | {len(mine)} | "
                         + " | ".join(str(n) if n else "" for n in counts) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1..10")
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (2 cores: 2)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--targets", help="comma separated (default: every target)")
    parser.add_argument("--shard", help="I/N: this job's share of the cells")
    add_result_options(parser)
    args = parser.parse_args()
    if args.table:
        print("\n".join(table(read_results(args.table))))
        return

    offered = offered_modes()
    modes = []
    for mode in args.modes.split(","):
        if mode in offered:
            modes.append(mode)
        else:
            print(f"note: checkpoint mode {mode} skipped: this explorer has no "
                  f"--checkpoints {mode} yet", flush=True)
    chosen = args.targets.split(",") if args.targets else list(targets())
    cells = [Cell(t, s, m, seed) for t in chosen for m in modes
             for s in args.strategies.split(",") for seed in parse_seeds(args.seeds)]
    if args.shard:
        shard = Shard.parse(args.shard)
        cells = [c for place, c in enumerate(cells) if place % shard.count == shard.index - 1]
    results = run_cells(run_cell, [(cell, args.budget) for cell in cells], args.jobs, args.out)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
