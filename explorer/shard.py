"""A run's share of the work: `--shard I/N` of the iterations, or of the seeds `--seeds A..B`.

Shards split round-robin: shard I of N takes the iterations (or seeds) whose
place p (from 0) has p % N == I - 1, so N jobs cover the whole run exactly once
and each job's share is spread over it.

What makes a shard's iteration the same as the whole run's: its scheduler is
seeded with `seed:iteration` and PCT's k is fixed (`--pct-steps`), so the
decisions do not depend on which iterations ran before; and under `--shard`
every iteration starts from the state the setup left (restored from its
archive), not from the state the iteration before left, which a shard never
ran. `--shard 1/1` is the whole run with iterations started that way: the
unsharded run that N shards add up to. Seeds need none of this: each seed is a
whole run of its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.scenario import DEFAULT_SCENARIO, Scenario

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_SEEDS = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")
# Options that may differ between the shards of one run: where each records, its scratch
# space, its share and its time limit. Every other option must agree (merge checks it).
PER_JOB_OPTIONS = ("trace_path", "work_dir", "shard", "max_time", "seed")


@dataclass(frozen=True)
class Shard:
    index: int  # from 1
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """ValueError naming what was expected."""
        match = _SHARD.match(text)
        if not match:
            raise ValueError(f"--shard {text!r}: expected I/N, like 2/4")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"--shard {text!r}: expected 1 <= I <= N")
        return cls(index, count)

    def share(self, items: list[int]) -> list[int]:
        return [item for place, item in enumerate(items) if place % self.count == self.index - 1]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_seeds(text: str) -> list[int]:
    """`A..B`, both included; ValueError naming what was expected."""
    match = _SEEDS.match(text)
    if not match or int(match[1]) > int(match[2]):
        raise ValueError(f"--seeds {text!r}: expected A..B with A <= B, like 1..10")
    return list(range(int(match[1]), int(match[2]) + 1))


def iteration_plan(total: int, shard: str | None, seeds: str | None) -> list[int]:
    """The iterations this run does: all, or its shard's share (a seed shard runs all)."""
    every = list(range(1, total + 1))
    return Shard.parse(shard).share(every) if shard and not seeds else every


def isolates_iterations(shard: str | None, seeds: str | None) -> bool:
    """Whether every iteration starts from the setup's state (see the module's doc)."""
    return bool(shard) and not seeds


def seed_plan(seeds: str, shard: str | None) -> list[int]:
    every = parse_seeds(seeds)
    return Shard.parse(shard).share(every) if shard else every


def per_seed_path(path: Path, seed: int) -> Path:
    """`runs/x.jsonl` -> `runs/x-seed3.jsonl`: one file a seed when a job runs several."""
    return path.with_name(f"{path.stem}-seed{seed}{path.suffix}")


def scenario_digest(scenario: Scenario) -> str:
    """The scenario file's SHA-256: shards on other machines have other paths, not other text."""
    source = scenario.path or DEFAULT_SCENARIO
    try:
        return hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError:
        return ""


def header_fields(scenario: Scenario, options: dict[str, Any]) -> dict[str, Any]:
    """What the trace header says about the work, for `merge` to check shards against."""
    shard = options.get("shard")
    seeds = options.get("seeds")
    total = options.get("iterations")
    iterations = scenario.iterations if total is None else total
    share: dict[str, Any] | None = None
    if shard:
        parsed = Shard.parse(shard)
        share = {"index": parsed.index, "count": parsed.count,
                 "of": "seeds" if seeds else "iterations"}
    work = {name: value for name, value in options.items() if name not in PER_JOB_OPTIONS}
    work["iterations"] = iterations
    return {"options": work, "scenario_digest": scenario_digest(scenario), "shard": share}
