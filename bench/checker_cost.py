"""What the checks of the children's outcomes cost per iteration, the serial search most.

Runs the default scenario in-process (as `--headless` does) with each of the new
checks (`serializable`, `children_succeed`, the evidence invariants) wrapped in a
timer, and prints per strategy: the median iteration wall time, the median time
an iteration spent in each check (live looks and the end-of-block check
together), and the serial check's share of the iteration (goal < 10 %).

    .venv/bin/python bench/checker_cost.py [--iterations 30] [--strategies os,pct]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.events import Event, IterationFinished, IterationStarted  # noqa: E402
from explorer.invariants import Check, Invariant, Transcript  # noqa: E402
from explorer.runner import Runner, RunOptions  # noqa: E402
from explorer.scenario import load_scenario  # noqa: E402
from explorer.snapshot import Snapshot  # noqa: E402

NEW = ("serializable", "children_succeed", "no_orphans_swept", "no_lock_exhaustion")


def run(strategy: str, iterations: int) -> tuple[list[float], dict[str, list[float]]]:
    spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    current = [0]

    def timed(name: str, check: Check) -> Check:
        def wrapper(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[object]:
            began = time.perf_counter()
            try:
                return list(check(snapshot, outputs))
            finally:
                spent[name][current[0]] += time.perf_counter() - began
        return wrapper  # type: ignore[return-value]

    scenario = load_scenario(None)
    scenario = replace(scenario, invariants=tuple(
        Invariant(i.name, i.when, timed(i.name, i.check)) if i.name in NEW else i
        for i in scenario.invariants))
    walls: list[float] = []

    def note(event: Event) -> None:
        if isinstance(event, IterationStarted):
            current[0] = event.iteration
        elif isinstance(event, IterationFinished) and 1 <= event.iteration <= iterations:
            walls.append(event.duration)

    with tempfile.TemporaryDirectory() as work:
        runner = Runner(scenario, RunOptions(iterations=iterations, strategy=strategy,
                                             trace_path=Path(work) / "t.jsonl",
                                             work_dir=Path(work) / "w"))
        runner.subscribe(note)
        finished = asyncio.run(runner.run())
    if finished.exit_code != 0:
        print(f"  ({strategy}: the run found breaks, exit {finished.exit_code})")
    per_check = {name: [spent[name].get(i, 0.0) for i in range(1, iterations + 1)]
                 for name in NEW}
    return walls, per_check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--strategies", default="os,pct")
    args = parser.parse_args()
    for strategy in args.strategies.split(","):
        walls, per_check = run(strategy, args.iterations)
        wall = statistics.median(walls)
        print(f"{strategy}: {len(walls)} iterations, median wall {wall * 1000:.0f} ms")
        for name, times in per_check.items():
            median, worst = statistics.median(times), max(times)
            print(f"  {name:<18} median {median * 1000:6.2f} ms  max {worst * 1000:6.2f} ms  "
                  f"({median / wall:.1%} of the median iteration)")


if __name__ == "__main__":
    main()
