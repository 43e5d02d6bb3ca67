"""What a big trace costs to read: `replay --headless` on a ~200 MB trace, time and peak RSS.

    .venv/bin/python bench/big_trace.py [--mb 200] [--from TRACE] [--rounds 3]

1. A small real run (20 iterations of the seed's race under PCT, every kind of event), or
   the trace given with --from.
2. A big trace made of its concurrent iterations repeated, renumbered and shifted in time
   until it reaches --mb megabytes (the header, run start and run end kept).
3. `race-explorer replay BIG --headless` (the summary; goal < 3 s and < 150 MB peak RSS) and
   `replay BIG --headless --iteration K` for a block in the middle (read via the byte-offset
   index), each run --rounds times as a process: wall time, CPU time and peak RSS. On a
   shared machine the wall time is noisy; the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    out = dict(os.environ, PYTHONPATH=str(ROOT))
    out.pop("GITHUB_ACTIONS", None)
    return out


def record_small(work: Path) -> Path:
    trace = work / "small.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--iterations", "20",
         "--profile", "swamp-w2", "--strategy", "pct", "--trace", str(trace)],
        cwd=work, env=env(), capture_output=True, text=True, timeout=600)
    if result.returncode not in (0, 1):
        raise SystemExit(f"the small run failed ({result.returncode}):\n{result.stderr}")
    return trace


def grow(small: Path, big: Path, megabytes: int) -> int:
    """Write `big` from `small`'s iterations repeated; returns how many iterations it holds."""
    lines = small.read_bytes().splitlines()
    header, events = lines[0], [json.loads(line) for line in lines[1:]]
    run_started, run_finished = events[0], events[-1]
    blocks: dict[int, list[dict[str, Any]]] = {}
    for event in events[1:-1]:
        blocks.setdefault(event["iteration"], []).append(event)
    iterations = [b for _, b in sorted(blocks.items()) if b[0].get("block") == "iteration"]
    if run_started.get("kind") != "run_started" or not iterations:
        raise SystemExit(f"{small}: no run_started or no concurrent iteration to repeat")
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    sizes = [sum(len(encode(e).encode()) + 1 for e in block) for block in iterations]
    n, size = 0, 0
    while size < megabytes * 1_000_000:  # how many iterations, so run_started can say
        size += sizes[n % len(sizes)]
        n += 1
    with big.open("w", encoding="utf-8") as out:
        out.write(header.decode() + "\n")
        out.write(encode({**run_started, "iterations": n}) + "\n")
        for k in range(1, n + 1):
            out.writelines(encode({**event, "iteration": k, "t": event["t"] + k * 10.0}) + "\n"
                           for event in iterations[(k - 1) % len(iterations)])
        out.write(encode({**run_finished, "iterations": n, "t": (n + 1) * 10.0}) + "\n")
    return n


def measure(args: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall s, cpu s, peak RSS MB) of one explorer process, which must exit 0."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "explorer", *args], cwd=cwd, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{args} exited {proc.returncode}:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def report(name: str, runs: list[tuple[float, float, float]], goal: str) -> None:
    walls, cpus, rss = ([r[i] for r in runs] for i in range(3))
    each = ", ".join(f"{w:.2f}" for w in walls)
    print(f"{name}: wall {statistics.median(walls):.2f} s (runs {each}), "
          f"cpu {statistics.median(cpus):.2f} s, peak RSS {max(rss):.0f} MB; {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the big trace")
    parser.add_argument("--from", dest="source", type=Path, help="a trace to grow from")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="race-explorer-bench-"))
    try:
        small = args.source.resolve() if args.source else record_small(work)
        big = work / "big.jsonl"
        started = time.perf_counter()
        n = grow(small, big, args.mb)
        print(f"built {big.stat().st_size / 1e6:.0f} MB, {n} iterations, from {small.name} "
              f"in {time.perf_counter() - started:.1f} s")
        summary = [measure(["replay", str(big), "--headless"], work) for _ in range(args.rounds)]
        report("summary (replay --headless)", summary, "goal < 3 s, < 150 MB")
        middle = str(n // 2)
        one = [measure(["replay", str(big), "--headless", "--iteration", middle], work)
               for _ in range(args.rounds)]
        report(f"one block (--iteration {middle})", one, "read via the byte-offset index")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
