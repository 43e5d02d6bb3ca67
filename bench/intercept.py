"""What holding a child's file-system calls costs: a scenario in hook vs syscalls mode, and
one child bare vs supervised.

First the default scenario (the reference CLI's four children) under a controlled strategy,
in hook mode (its checkpoint hook) and syscalls mode (the hook unused), in alternating rounds:
the median iteration wall time of each and their ratio (goal <= 1.5), the steps an
iteration, and the notifications held / passed per child.

Then two workloads, each run alone (one child at a time), in alternating rounds:
- `script`: a Python script making 200 files under the root and renaming each;
- `pull`: the reference CLI's `extension pull @stress/alpha@1.0.0` on a fresh repo (the root),
  against the fixture registry (its own process).
Configurations: `bare` (the command itself), `launcher` (under the launcher, a filter that
traps nothing: the cost of the extra interpreter start), then the supervisor releasing each
held call at once with the default groups, with each group alone, and with all of them.
Prints the median and the least wall time of each (the least is the steadier figure on a
shared machine), their ratios to bare, and the notifications held / passed at once per
child (the mean over rounds).

    .venv/bin/python bench/intercept.py [--rounds 15] [--dir /dev/shm]
        [--scenario-rounds 3] [--iterations 8] [--strategy random]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

from lifecycle.layout import Layout  # noqa: E402
from lifecycle.ops import init  # noqa: E402

from explorer.events import (  # noqa: E402
    CheckpointReached,
    Event,
    IterationFinished,
    IterationStarted,
    ScheduleDecision,
)
from explorer.intercept.options import DEFAULT_GROUPS, GROUPS, SyscallOptions  # noqa: E402
from explorer.intercept.supervisor import SyscallSupervisor  # noqa: E402
from explorer.runner import Runner, RunOptions  # noqa: E402
from explorer.scenario import load_scenario  # noqa: E402
from explorer.scheduling.factory import ControlledFactory  # noqa: E402
from explorer.scheduling.server import Arrival  # noqa: E402

SCRIPT = """
import os
for i in range(200):
    with open(f"f{i}", "w") as out:
        out.write("x")
    os.rename(f"f{i}", f"g{i}")
"""

CONFIGS: list[tuple[str, tuple[str, ...] | None]] = [
    ("bare", None),
    ("launcher", ()),
    ("default " + "+".join(DEFAULT_GROUPS), DEFAULT_GROUPS),
    *((f"{group} only", (group,)) for group in GROUPS),
    ("all groups", tuple(GROUPS)),
]


async def run_once(argv: list[str], root: Path, env: dict[str, str],
                   groups: tuple[str, ...] | None) -> tuple[float, int, int]:
    """Wall seconds, and notifications held and passed."""
    if groups is None:
        start = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=root, env=env, stdout=subprocess.DEVNULL
        )
        code = await process.wait()
        wall = time.perf_counter() - start
        _check(code, argv)
        return wall, 0, 0
    supervisor: SyscallSupervisor

    def arrived(arrival: Arrival) -> None:
        asyncio.get_running_loop().call_soon(supervisor.release, arrival.child)

    supervisor = SyscallSupervisor(
        arrived, lambda child: None, options=SyscallOptions.under([root], groups)
    )
    await supervisor.start()
    try:
        start = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *supervisor.wrap(1, argv), cwd=root, env=env, stdout=subprocess.DEVNULL
        )
        code = await process.wait()
        wall = time.perf_counter() - start
    finally:
        await supervisor.close()
    _check(code, argv)
    counts = supervisor.counts.get(1)
    return wall, counts.held if counts else 0, counts.passed if counts else 0


def _check(code: int, argv: list[str]) -> None:
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit {code}")


def script_workload(work: Path) -> tuple[list[str], Callable[[], Path], dict[str, str]]:
    def fresh() -> Path:
        root = Path(tempfile.mkdtemp(dir=work))
        return root

    return [sys.executable, "-c", SCRIPT], fresh, dict(os.environ)


def pull_workload(work: Path, registry_url: str
                  ) -> tuple[list[str], Callable[[], Path], dict[str, str]]:
    def fresh() -> Path:
        root = Path(tempfile.mkdtemp(dir=work))
        init(Layout(root))
        return root

    env = {k: v for k, v in os.environ.items() if not k.startswith("RACE_EXPLORER_")}
    env.update(PYTHONPATH=str(ROOT / "fixtures"), LIFECYCLE_REGISTRY_URL=registry_url)
    argv = [sys.executable, "-m", "lifecycle", "--repo-dir", ".", "extension", "pull",
            "@stress/alpha@1.0.0"]
    return argv, fresh, env


async def measure(name: str, argv: list[str], fresh: Callable[[], Path], env: dict[str, str],
                  rounds: int) -> None:
    walls: dict[str, list[float]] = {label: [] for label, _ in CONFIGS}
    held: dict[str, list[int]] = {label: [] for label, _ in CONFIGS}
    passed: dict[str, list[int]] = {label: [] for label, _ in CONFIGS}
    for _ in range(rounds):
        for label, groups in CONFIGS:
            root = fresh()
            wall, h, p = await run_once(argv, root, env, groups)
            walls[label].append(wall)
            held[label].append(h)
            passed[label].append(p)
            shutil.rmtree(root)
    bare, bare_min = statistics.median(walls["bare"]), min(walls["bare"])
    print(f"\n{name}: {rounds} rounds; wall per child, median and min; ratios to bare")
    print(f"  {'configuration':34} {'median ms':>9} {'ratio':>6} {'min ms':>7} {'ratio':>6} "
          f"{'held':>6} {'passed':>6}")
    for label, _ in CONFIGS:
        wall, least = statistics.median(walls[label]), min(walls[label])
        print(f"  {label:34} {wall * 1000:9.1f} {wall / bare:6.2f} {least * 1000:7.1f} "
              f"{least / bare_min:6.2f} {statistics.mean(held[label]):6.0f} "
              f"{statistics.mean(passed[label]):6.0f}")


@dataclass
class WallSplit:
    """Where an iteration's wall goes, from its events: a released child running up to its
    next held call (`running`; `first`: the part of it after each child's first held call,
    its start-up), and the explorer between the last arrival and its decision."""

    running: float = 0.0
    first: float = 0.0
    deciding: float = 0.0
    _released: dict[tuple[int, int], tuple[float, bool]] = field(default_factory=dict)
    _arrivals: Counter[tuple[int, int]] = field(default_factory=Counter)
    _last_arrival: float | None = None

    def see(self, event: Event) -> None:
        if isinstance(event, IterationStarted):  # event times start again in each run
            self._released.clear()
            self._arrivals.clear()
            self._last_arrival = None
        elif isinstance(event, CheckpointReached):
            key = (event.iteration, event.child)
            self._arrivals[key] += 1
            self._last_arrival = event.t
            if key in self._released:
                since, first = self._released.pop(key)
                self.running += event.t - since
                self.first += (event.t - since) if first else 0.0
        elif isinstance(event, ScheduleDecision) and self._last_arrival is not None:
            self.deciding += event.t - self._last_arrival
            self._last_arrival = None
            if event.action == "run":
                key = (event.iteration, event.chosen)
                self._released[key] = (event.t, self._arrivals[key] == 1)


async def scenario_round(mode: str, strategy: str, seed: int, iterations: int, work: Path,
                         split: WallSplit
                         ) -> tuple[list[float], int, list[tuple[int, int, int]]]:
    """Iteration walls, decisions, and (child, held, passed) of each iteration's children."""
    walls: list[float] = []
    decisions = 0

    def seen(event: Event) -> None:
        nonlocal decisions
        if isinstance(event, IterationFinished) and event.iteration in range(1, iterations + 1):
            walls.append(event.duration)
        if getattr(event, "iteration", 0) in range(1, iterations + 1):
            split.see(event)
        decisions += event.kind == "schedule_decision"

    options = RunOptions(seed=seed, strategy=strategy, checkpoints=mode, iterations=iterations,
                         trace_path=Path(tempfile.mkdtemp(dir=work)) / "run.jsonl")
    runner = Runner(load_scenario(None), options)
    runner.handle_signals = False
    runner.subscribe(seen)
    result = await runner.run()
    if result.exit_code not in (0, 1):  # 1: a break found, the walls still count
        raise SystemExit(f"the default scenario failed in {mode} mode (exit {result.exit_code}): "
                         f"see {options.trace_path}")
    counts = []
    assert isinstance(runner.factory, ControlledFactory)
    for scheduler in runner.factory.made:
        if isinstance(scheduler.source, SyscallSupervisor):
            counts += [(child, c.held, c.passed) for child, c in scheduler.source.counts.items()]
    return walls, decisions // iterations, counts


async def compare_modes(rounds: int, iterations: int, strategy: str, work: Path) -> None:
    walls: dict[str, list[float]] = {"hook": [], "syscalls": []}
    steps: dict[str, list[int]] = {"hook": [], "syscalls": []}
    splits = {mode: WallSplit() for mode in walls}
    counts: list[tuple[int, int, int]] = []
    for n in range(rounds):
        for mode in walls:
            w, s, c = await scenario_round(mode, strategy, n, iterations, work, splits[mode])
            walls[mode] += w
            steps[mode].append(s)
            counts += c
    print(f"default scenario, {strategy}, {rounds} rounds of {iterations} iterations per mode, "
          f"load average {os.getloadavg()[0]:.1f}")
    for mode, values in walls.items():
        print(f"  {mode:9} iteration wall median {statistics.median(values) * 1000:6.0f} ms, "
              f"min {min(values) * 1000:5.0f} ms, {statistics.mean(steps[mode]):4.0f} decisions "
              "an iteration")
    ratio = statistics.median(walls["syscalls"]) / statistics.median(walls["hook"])
    print(f"  syscalls / hook: {ratio:.2f} (goal <= 1.5)")
    print("  where an iteration goes (mean ms): a child running between held calls (of it: after "
          "each child's first), the explorer deciding")
    for mode, split in splits.items():
        done = len(walls[mode]) or 1
        print(f"  {mode:9} running {split.running / done * 1000:6.0f} (first "
              f"{split.first / done * 1000:5.0f}), deciding {split.deciding / done * 1000:5.0f}")
    for child in sorted({c for c, _, _ in counts}):
        mine = [(h, p) for c, h, p in counts if c == child]
        print(f"  child {child}: held {statistics.mean(h for h, _ in mine):5.0f}, passed at once "
              f"{statistics.mean(p for _, p in mine):6.0f} an iteration")


def start_registry() -> tuple[subprocess.Popen[str], str]:
    registry = subprocess.Popen(
        [sys.executable, "-m", "lifecycle.registry"], stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "fixtures")),
    )
    assert registry.stdout is not None
    return registry, registry.stdout.readline().strip()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15,
                        help="rounds of the one-child workloads (0: skip them)")
    parser.add_argument("--dir", help="where the roots are made (default: the temp dir); "
                        "a tmpfs such as /dev/shm takes the disk's noise out")
    parser.add_argument("--scenario-rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--strategy", default="random", choices=["random", "pct"])
    args = parser.parse_args()
    registry, url = start_registry()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-intercept-", dir=args.dir) as directory:
            work = Path(directory)
            if args.scenario_rounds:
                await compare_modes(args.scenario_rounds, args.iterations, args.strategy, work)
            if args.rounds:
                await measure("script (200 creates + renames)", *script_workload(work),
                              rounds=args.rounds)
                await measure("pull (reference CLI, extension pull)",
                              *pull_workload(work, url), rounds=args.rounds)
    finally:
        registry.terminate()
        registry.wait()


if __name__ == "__main__":
    asyncio.run(main())
