"""Calibration: how many iterations each strategy needs to find each seeded bug.

For every target (the `swamp-w2` profile, each seeded bug of the reference
CLI) and every strategy, runs the default scenario until the first failing
iteration or the seed test's budget of 50, and prints the table. Then takes
the `swamp-w2` break that `pct` found, reruns it 20 times under its recorded
schedule, and shrinks it. `correct` must stay clean under every strategy and
under kill faults.

    .venv/bin/python bench/find_bugs.py [--seeds 3] [--budget 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from explorer.control import RunControl
from explorer.events import Event, IterationFinished
from explorer.rerun import describe_schedule, load_recorded, rerun, scenario_of, signature
from explorer.runner import Runner, RunOptions
from explorer.scenario import Scenario, load_scenario
from explorer.shrink import script_of, shrink, switches
from explorer.trace import TraceReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from lifecycle.faults import BUGS  # noqa: E402

HERE = Path(__file__).resolve().parent
STRATEGIES = ("os", "random", "pct")


async def first_failure(
    scenario: Scenario, options: RunOptions, budget: int
) -> tuple[int | None, Path]:
    control = RunControl()
    found: list[int] = []

    def watch(event: Event) -> None:
        if isinstance(event, IterationFinished) and event.verdict == "failed" and event.iteration:
            found.append(event.iteration)
            control.stop()

    options.iterations = budget
    runner = Runner(scenario, options, control=control)
    runner.handle_signals = False
    runner.subscribe(watch)
    await runner.run()
    return (found[0] if found else None), runner.trace_path


def targets() -> list[tuple[str, str | None, list[str], Path | None]]:
    rows: list[tuple[str, str | None, list[str], Path | None]] = [
        ("profile swamp-w2", "swamp-w2", [], None)
    ]
    for bug in BUGS:
        scenario = HERE / "collision.toml" if bug == "no-duplicate-rollback" else None
        rows.append((bug, None, [bug], scenario))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    traces = Path(tempfile.mkdtemp(prefix="race-explorer-bench-"))
    pct_w2: tuple[Path, int] | None = None

    print(f"iterations to the first failure (budget {args.budget}, seeds 0..{args.seeds - 1});"
          " '-' = not found")
    print(f"{'target':28}" + "".join(f"{s:>16}" for s in STRATEGIES))
    for name, profile, bugs, scenario_path in targets():
        scenario = load_scenario(scenario_path)
        cells = []
        for strategy in STRATEGIES:
            found = []
            for seed in range(args.seeds):
                options = RunOptions(seed=seed, profile=profile, bugs=bugs, strategy=strategy,
                                     trace_path=traces / f"{name}-{strategy}-{seed}.jsonl")
                at, trace = await first_failure(scenario, options, args.budget)
                found.append(at)
                if at and profile == "swamp-w2" and strategy == "pct" and pct_w2 is None:
                    pct_w2 = (trace, at)
            cells.append(",".join("-" if f is None else str(f) for f in found))
        print(f"{name:28}" + "".join(f"{c:>16}" for c in cells), flush=True)

    scenario = load_scenario(None)
    for strategy, kill_rate in (("os", 0.0), ("random", 0.0), ("pct", 0.0), ("pct", 0.05)):
        options = RunOptions(seed=0, strategy=strategy, kill_rate=kill_rate,
                             trace_path=traces / f"correct-{strategy}-{kill_rate}.jsonl")
        at, _ = await first_failure(scenario, options, args.budget)
        kills = f", kill rate {kill_rate}" if kill_rate else ""
        verdict = "clean" if at is None else f"FAILED at {at}"
        print(f"correct under {strategy}{kills}: {verdict} ({args.budget} iterations)")

    if pct_w2 is None:
        print("pct found no swamp-w2 break to replay")
        return
    trace, iteration = pct_w2
    reader = TraceReader(trace)
    recorded = load_recorded(reader, iteration)
    scenario = scenario_of(reader)
    same = 0
    start = time.monotonic()
    for n in range(20):
        outcome = await rerun(recorded, scenario, traces / f"rerun-{n}.jsonl")
        same += signature(outcome.breaks) == signature(recorded.breaks)
    print(f"\nswamp-w2 under pct, iteration {iteration}: "
          f"{'; '.join(b.message for b in recorded.failing)}")
    print(f"reruns under the recorded schedule reproducing it: {same}/20 "
          f"({(time.monotonic() - start) / 20:.2f} s each)")
    result = await shrink(recorded, scenario)
    if result is None:
        print("shrink: the break did not reproduce")
        return
    best = result.best
    print(f"shrink: {len(recorded.children)} children, "
          f"{switches(script_of(recorded.decisions))} switches -> {len(best.children)} children "
          f"({', '.join(c.label for c in best.children)}), "
          f"{switches(script_of(best.decisions))} switches, in {result.tried} tries")
    print(describe_schedule(best.decisions, best.children))


if __name__ == "__main__":
    asyncio.run(main())
