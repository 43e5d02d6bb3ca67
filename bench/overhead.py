"""What watching, streaming and recording cost: the explorer vs a bare loop.

In one run, alternating rounds of:
- the explorer: `python -m explorer --headless` on the default scenario, its per-iteration
  wall times read back from its trace (IterationFinished.duration: from the block's start,
  archive included, to its verdict);
- a bare loop: the same registry, setup and four children per iteration, output collected
  only at exit, then the same quiescent invariants on the same stores; no watcher, no
  events, no trace.
Prints both, the ratio of mean (and median) iteration wall times (goal <= 1.10) and the
iterations per second of each.

    .venv/bin/python bench/overhead.py [--iterations 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.events import IterationFinished, IterationStarted  # noqa: E402
from explorer.invariants import Transcript, due  # noqa: E402
from explorer.scenario import Command, Scenario, load_scenario  # noqa: E402
from explorer.scenario_values import expand  # noqa: E402
from explorer.snapshot import read_snapshot  # noqa: E402
from explorer.trace import TraceReader  # noqa: E402


def explorer_round(iterations: int, work: Path) -> list[float]:
    trace = work / "explorer.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GITHUB_ACTIONS", None)
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--iterations", str(iterations),
         "--trace", str(trace)],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"the explorer run failed ({result.returncode}):\n{result.stdout}\n"
                         f"{result.stderr}")
    kinds: dict[int, str] = {}
    durations = []
    for event in TraceReader(trace).events():
        if isinstance(event, IterationStarted):
            kinds[event.iteration] = event.block
        elif isinstance(event, IterationFinished) and kinds[event.iteration] == "iteration":
            durations.append(event.duration)
    return durations


class BareLoop:
    """The seed's way: spawn, wait, check at the end."""

    def __init__(self, scenario: Scenario, work: Path) -> None:
        self.scenario = scenario
        self.repo = work / "repo"
        self.repo.mkdir()
        self.values = scenario.placeholders(sys.executable, self.repo, work)
        self.env: dict[str, str] = {}

    async def child(self, command: Command) -> Transcript:
        argv = [expand(part, self.values) for part in command.argv]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env, cwd=self.repo, start_new_session=True,
        )
        out, err = await asyncio.wait_for(proc.communicate(), self.scenario.timeout)
        lines = (out + err).decode("utf-8", "replace").splitlines()
        return Transcript(0, command.label, tuple(lines), proc.returncode)

    def check(self, outputs: list[Transcript], phase: str) -> int:
        stores = tuple(dataclasses.replace(spec, path=expand(spec.path, self.values))
                       for spec in self.scenario.stores)
        snapshot = read_snapshot(self.repo, stores)
        return sum(len(inv.run(snapshot, outputs))
                   for inv in due(self.scenario.invariants, phase))

    async def run(self, iterations: int) -> tuple[list[float], int]:
        [service] = self.scenario.services
        env = dict(os.environ)
        env.update({k: expand(v, self.values) for k, v in service.env.items()})
        registry = await asyncio.create_subprocess_exec(
            *[expand(p, self.values) for p in service.argv], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        assert registry.stdout is not None
        url = (await registry.stdout.readline()).decode().strip()
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.env.update({k: expand(v, self.values) for k, v in self.scenario.env.items()})
        self.env[service.url_env or "LIFECYCLE_REGISTRY_URL"] = url
        breaks = 0
        try:
            for command in self.scenario.setup:
                await self.child(command)
            durations = []
            for _ in range(iterations):
                start = time.monotonic()
                outputs = await asyncio.gather(*(self.child(op) for op in self.scenario.ops))
                breaks += self.check(list(outputs), "quiescent")
                durations.append(time.monotonic() - start)
            if self.scenario.reconcile:
                breaks += self.check([await self.child(self.scenario.reconcile)], "final")
        finally:
            registry.kill()
            await registry.wait()
        return durations, breaks


def bare_round(iterations: int, work: Path) -> list[float]:
    durations, breaks = asyncio.run(BareLoop(load_scenario(None), work).run(iterations))
    if breaks:
        print(f"  (the bare loop saw {breaks} break(s))")
    return durations


def describe(name: str, durations: list[float]) -> str:
    return (f"{name:9} {len(durations):3} iterations  mean {statistics.mean(durations):.3f} s  "
            f"median {statistics.median(durations):.3f} s  "
            f"{len(durations) / sum(durations):.2f} iterations/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20, help="per round and face")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    explorer: list[float] = []
    bare: list[float] = []
    for round_no in range(1, args.rounds + 1):
        for name, runner, into in (("bare", bare_round, bare),
                                   ("explorer", explorer_round, explorer)):
            work = Path(tempfile.mkdtemp(prefix="race-explorer-bench-"))
            try:
                into.extend(runner(args.iterations, work))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(f"round {round_no}: {name} done")
    print(describe("bare", bare))
    print(describe("explorer", explorer))
    ratio_mean = statistics.mean(explorer) / statistics.mean(bare)
    ratio_median = statistics.median(explorer) / statistics.median(bare)
    verdict = "within" if ratio_mean <= 1.10 else "over"
    print(f"overhead: explorer/bare iteration wall time = {ratio_mean:.3f} (mean), "
          f"{ratio_median:.3f} (median); {verdict} the 1.10 goal")


if __name__ == "__main__":
    main()
