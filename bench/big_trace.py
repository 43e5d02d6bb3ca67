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
4. The app (`race-explorer replay BIG`, driven headless through Textual's `run_test` in a
   process of its own): the time from the process's start to every iteration listed on
   screen (goal < 1 s), then to iteration K shown after it is picked, and the peak RSS (goal
   well under 150 MB). The same on the small trace, in alternating rounds, says how much of
   it is the app's own start-up (Python, Textual) rather than the big trace.
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


def grow(small: Path, big: Path, megabytes: float) -> int:
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


def app_child(trace: Path, iteration: int, since: float) -> None:
    """In its own process: open the app on `trace`, wait for the whole iteration list on
    screen, then pick `iteration` from the list; print when each was seen, as JSON."""
    import asyncio

    from explorer.tui.app import load_replay
    from explorer.tui.history import Position

    async def drive() -> dict[str, float]:
        app = load_replay(trace)
        async with app.run_test(size=(150, 44)) as pilot:
            listed = app.main_screen.iteration_list
            total = len(app.history.iterations)
            while listed.option_count < total or app.main_screen.position is None:
                await pilot.pause(0.005)
            seen = {"list": time.time() - since, "list_cpu": time.process_time()}
            listed.highlighted = app.history.iterations.index(iteration)
            await pilot.wait_for_scheduled_animations()  # the list scrolls to it first
            picked = time.time()
            await pilot.press("enter")
            while app.main_screen.position != Position(iteration,
                                                       app.history.last_index(iteration)):
                await pilot.pause(0.005)
            await pilot.pause()  # the frame that draws it
            seen["pick"] = time.time() - picked
            return seen

    print(json.dumps(asyncio.run(drive())))


def measure_app(trace: Path, iteration: int, cwd: Path) -> tuple[float, float, float, float]:
    """(s to the list, its CPU s, s to show the picked iteration, peak RSS MB) of one app
    process."""
    since = time.time()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--app-child",
                             str(trace), "--iteration", str(iteration), "--since", str(since)],
                            cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the app on {trace} failed:\n{err}")
    seen = json.loads(out)
    return seen["list"], seen["list_cpu"], seen["pick"], usage.ru_maxrss / 1024


def report_app(name: str, runs: list[tuple[float, float, float, float]]) -> None:
    lists, cpus, picks, rss = ([r[i] for r in runs] for i in range(4))
    each = ", ".join(f"{x:.2f}" for x in lists)
    print(f"{name}: iteration list on screen {statistics.median(lists):.2f} s from the "
          f"process's start (runs {each}; cpu {statistics.median(cpus):.2f} s), the picked "
          f"iteration {statistics.median(picks):.2f} s more, peak RSS {max(rss):.0f} MB")


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
    parser.add_argument("--app-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--iteration", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app_child is not None:
        app_child(args.app_child, args.iteration, args.since)
        return
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
        big_app: list[tuple[float, float, float, float]] = []
        small_app: list[tuple[float, float, float, float]] = []
        for _ in range(args.rounds):  # alternating: both see the same load
            big_app.append(measure_app(big, n // 2, work))
            small_app.append(measure_app(small, 2, work))
        report_app(f"app on the big trace (picks {n // 2})", big_app)
        report_app("app on the small trace (picks 2)", small_app)
        extra, extra_cpu = (statistics.median(r[i] for r in big_app)
                            - statistics.median(r[i] for r in small_app) for i in (0, 1))
        print(f"the big trace costs the app {extra:+.2f} s ({extra_cpu:+.2f} s cpu) to its list "
              "(goal: the list < 1 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
