"""Soak: one long headless run, the explorer's memory and the trace's growth along it.

A tiny scenario (two quick children: one rewrites the lockfile, one touches a
file beside it) keeps each iteration short, so 2,000 of them run in minutes and
what grows is the explorer, not the target. The explorer runs as a process of
its own; its RSS is read from /proc when the trace shows iterations 100 and
2,000 finished (and at every tenth of the way, for the curve). Goal: RSS at
2,000 within 10 % of RSS at 100.

    .venv/bin/python bench/soak.py [--iterations 2000] [--strategy os]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = """
name = "soak"
iterations = 2000
timeout = 10
invariants = ["lockfile_parses"]

[[ops]]
label = "write the lockfile"
argv = ["{python}", "-S", "-c", '''
import os, pathlib
p = pathlib.Path("{repo}/extensions/models")
p.mkdir(parents=True, exist_ok=True)
(p / "tmp").write_text("{}")
os.replace(p / "tmp", p / "upstream_extensions.json")
''']

[[ops]]
label = "touch a file"
argv = ["{python}", "-S", "-c", 'import pathlib; pathlib.Path("{repo}/touched").touch()']
"""
MARK = b'"kind":"iteration_finished"'
POLL = 0.2  # seconds between looks at the trace


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--strategy", default="os")
    args = parser.parse_args()
    marks = sorted({100, args.iterations, *range(args.iterations // 10, args.iterations + 1,
                                                   max(args.iterations // 10, 1))})
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        scenario = Path(scratch) / "soak.toml"
        scenario.write_text(SCENARIO, encoding="utf-8")
        trace = Path(scratch) / "soak.jsonl"
        command = [sys.executable, "-m", "explorer", "--headless", "--scenario", str(scenario),
                   "--iterations", str(args.iterations), "--strategy", args.strategy,
                   "--trace", str(trace)]
        start = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples: list[tuple[int, int]] = []  # (iterations finished, RSS KiB), as polled
        offset, done = 0, 0
        while process.poll() is None:
            time.sleep(POLL)
            if not trace.exists():
                continue
            with trace.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
            complete = chunk.rfind(b"\n") + 1
            offset += complete
            done += chunk[:complete].count(MARK)
            try:
                samples.append((done - 1, rss_kib(process.pid)))  # block 0 (setup) counted
            except FileNotFoundError:
                break  # it ended meanwhile
        wall = time.monotonic() - start
        if process.returncode not in (0, 1):
            print(f"the run failed ({process.returncode}): {process.stderr.read().decode()}"
                  if process.stderr else f"the run failed ({process.returncode})")
            return 1
        size = trace.stat().st_size
    print(f"{args.iterations} iterations ({args.strategy}) in {wall:.0f} s "
          f"({args.iterations / wall:.1f} an s)")
    seen: dict[int, tuple[int, int]] = {}  # mark -> the first sample at or past it
    for mark in marks:
        at = next((s for s in samples if s[0] >= mark), samples[-1] if samples else None)
        if at is not None:
            seen[mark] = at
            print(f"  RSS at iteration {mark:>5}: {at[1] / 1024:.1f} MiB (read at {at[0]})")
    first, last = seen.get(100, (0, 0))[1], seen.get(args.iterations, (0, 0))[1]
    if first and last:
        print(f"growth 100 -> {args.iterations}: {100 * (last - first) / first:+.1f} % "
              "(goal < 10 %)")
    print(f"trace: {size / 1e6:.1f} MB, {size / args.iterations / 1024:.1f} KiB an iteration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
