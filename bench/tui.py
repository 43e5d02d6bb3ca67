"""What the app costs: iteration wall with the TUI vs headless, and a 100,000-line child.

    python bench/tui.py [--iterations 20] [--rounds 10] [--lines 100000]

1. The same run (default scenario, same seed) headless and in the app, the app in a
   real terminal (tmux) when there is one, else Textual's headless driver: mean
   wall of a concurrent iteration, from the traces, round by round (alternating, so
   a change in the machine's load weighs on both). Goal: app / headless <= 1.10
   (the median of the rounds' ratios); the app's CPU seconds per iteration.
2. One child printing N lines, in the app and headless: the iteration's wall in
   each (goal: app <= 1.3x), the lines in the trace (must be all N), the app
   process's peak RSS (goal < 150 MB), and how long a key press takes to be answered
   (space: pause/resume) while the lines stream (goal: p95 < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "fixtures")]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'fixtures'}"}

RUN_DEADLINE_SECONDS = 300

CHATTY = """name = "chatty"
iterations = 1
timeout = 300
invariants = ["children_succeed"]

[[ops]]
label = "print {lines} lines"
argv = ["{{python}}", "-c", '''
import sys
write = sys.stdout.write
for i in range({lines}):
    write("line %d of a child that prints a lot, to see whether the app keeps up\\n" % i)
''']
"""


def trace_durations(path: Path) -> list[float]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        event = json.loads(line)
        if event["kind"] == "iteration_started":
            block = event["block"]
        if event["kind"] == "iteration_finished" and block == "iteration":
            out.append(event["duration"])
    return out


def trace_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""



def explorer_argv(trace: Path, work: Path, iterations: int, seed: int) -> list[str]:
    return [
        sys.executable, "-m", "explorer", "--iterations", str(iterations), "--seed", str(seed),
        "--trace", str(trace), "--work-dir", str(work),
    ]  # fmt: skip


def headless_run(tmp: Path, iterations: int, seed: int) -> list[float]:
    trace = tmp / "headless.jsonl"
    argv = explorer_argv(trace, tmp / "w-headless", iterations, seed) + ["--headless"]
    subprocess.run(argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=False)
    return trace_durations(trace)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system, every thread) a live process has used so far."""
    from explorer.descendants import proc_stat

    fields = proc_stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tmux_run(tmp: Path, iterations: int, seed: int) -> tuple[list[float], float, float]:
    """The real console app in a real terminal; q once the run is over. Returns the
    iterations' durations, the app's CPU seconds in all, and while the run ran."""
    trace = tmp / "tui.jsonl"
    argv = explorer_argv(trace, tmp / "w-tui", iterations, seed)
    socket = f"race-bench-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket]
    env = {k: v for k, v in ENV.items() if not k.startswith("TMUX")}
    cpu_file = tmp / "app-cpu"
    # The app's own CPU (its process, not the runner's: that is a child it waits for).
    measure = (
        f"import resource, runpy, sys; sys.argv = {['explorer', *argv[3:]]!r}; "
        "code = 0\ntry: runpy.run_module('explorer', run_name='__main__')\n"
        "except SystemExit as e: code = e.code\n"
        "u = resource.getrusage(resource.RUSAGE_SELF); "
        f"open({str(cpu_file)!r}, 'w').write(str(u.ru_utime + u.ru_stime))"
    )
    # exec: the pane's process is the app, whose CPU is sampled while the run runs.
    command = f"cd {ROOT} && exec {sys.executable} -c {shlex.quote(measure)}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "b", "-x", "160", "-y", "48", command],
        env=env,
        check=True,
    )
    pane = subprocess.run(
        [*tmux, "display", "-p", "-t", "b", "#{pane_pid}"], capture_output=True, text=True
    )
    pid = int(pane.stdout.strip())
    tick = threading.Event()
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    cpu_at_start: float | None = None
    try:
        while '"kind":"run_finished"' not in (text := trace_text(trace)):
            if time.monotonic() > deadline:
                raise SystemExit(f"the app's run did not finish in {RUN_DEADLINE_SECONDS} s")
            if cpu_at_start is None and '"iteration_started"' in text:
                cpu_at_start = process_cpu(pid)
            tick.wait(0.05)
        cpu_during = process_cpu(pid) - (cpu_at_start or 0.0)
        subprocess.run([*tmux, "send-keys", "-t", "b", "q"], check=True)
        deadline = time.monotonic() + 30
        while not cpu_file.exists() and time.monotonic() < deadline:
            tick.wait(0.1)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    cpu = float(cpu_file.read_text()) if cpu_file.exists() else float("nan")
    return trace_durations(trace), cpu, cpu_during


async def app_run(
    trace: Path, work: Path, scenario: Path | None, iterations: int, seed: int, press_keys: bool
) -> dict[str, object]:
    """The app on Textual's headless driver, in this process; optionally time key presses."""
    from textual import events

    from explorer.events import ChildOutput
    from explorer.runner import RunOptions
    from explorer.scenario import load_scenario
    from explorer.serve import RunnerProcess
    from explorer.tui.app import ExplorerApp

    options = RunOptions(iterations=iterations, seed=seed, trace_path=trace, work_dir=work)
    runner = RunnerProcess(load_scenario(scenario), options)
    streaming = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, ChildOutput):
            streaming.set()

    runner.subscribe(on_event)
    app = ExplorerApp(runner=runner, control=runner)
    latencies: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        driver = app._driver
        assert driver is not None
        if press_keys:
            await streaming.wait()
            # space toggles pause: answered when the app has acted on it (header redrawn).
            while app.run_result is None and len(latencies) < 200:
                before = app.paused
                key = events.Key("space", " ")
                key.set_sender(app)
                start = time.perf_counter()
                driver.send_message(key)
                while app.paused == before and app.run_result is None:
                    await asyncio.sleep(0.001)
                if app.paused == before:
                    break  # the run ended first: space no longer pauses anything
                latencies.append(time.perf_counter() - start)
                await asyncio.sleep(0.05)
            if app.paused:
                app.action_resume()
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        while app.run_result is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"the app's run did not finish in {RUN_DEADLINE_SECONDS} s")
            await asyncio.sleep(0.05)
        await pilot.pause()
        await app.action_quit()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"latencies": latencies, "rss_mb": rss_mb}


def chatty(tmp: Path, lines: int) -> dict[str, object]:
    scenario = tmp / "chatty.toml"
    scenario.write_text(CHATTY.format(lines=lines), encoding="utf-8")
    trace = tmp / "chatty.jsonl"
    # A fresh process, so the peak RSS is the app's own.
    done = subprocess.run(
        [sys.executable, __file__, "--measure-chatty", str(scenario), str(trace), str(tmp / "wc")],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    text = trace.read_text(encoding="utf-8")
    result["trace_lines"] = text.count('"kind":"child_output"')
    result["duration"] = trace_durations(trace)
    headless_trace = tmp / "chatty-headless.jsonl"
    subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--scenario", str(scenario),
         "--trace", str(headless_trace), "--work-dir", str(tmp / "wch")],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    result["headless_duration"] = trace_durations(headless_trace)
    return result


def app_durations(tmp: Path, iterations: int, seed: int) -> tuple[list[float], float, float]:
    if shutil.which("tmux"):
        return tmux_run(tmp, iterations, seed)
    trace = tmp / "tui.jsonl"
    before = time.process_time()
    asyncio.run(app_run(trace, tmp / "w-app", None, iterations, seed, press_keys=False))
    return trace_durations(trace), time.process_time() - before, float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="per round and mode")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("rounds", "lines"), help="run one of the two parts")
    parser.add_argument("--measure-chatty", nargs=3, metavar=("SCENARIO", "TRACE", "WORK"))
    args = parser.parse_args()
    if args.measure_chatty:
        scenario, trace, work = (Path(p) for p in args.measure_chatty)
        out = asyncio.run(app_run(trace, work, scenario, 1, 0, press_keys=True))
        print(json.dumps(out))
        return 0

    with tempfile.TemporaryDirectory(prefix="race-explorer-bench-") as name:
        tmp = Path(name)
        if args.only != "lines":
            rounds(tmp, args)
        if args.only != "rounds":
            lines(tmp, args)
        print(f"   load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def rounds(tmp: Path, args: argparse.Namespace) -> None:
    how = "the app in tmux" if shutil.which("tmux") else "the app on Textual's headless driver"
    print(
        f"1. iteration wall, default scenario, seed {args.seed}: {args.rounds} rounds of "
        f"{args.iterations} iterations headless, then {args.iterations} in {how}"
    )
    print(f"   load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # Rounds alternate, so a change in the machine's load weighs on both sides; which
    # side goes first alternates too.
    headless: list[float] = []
    app: list[float] = []
    ratios: list[float] = []
    cpu_total: list[float] = []
    cpu_during: list[float] = []
    for n in range(args.rounds):
        round_dir = tmp / f"round-{n}"
        round_dir.mkdir()
        if n % 2:
            a, cpu, during = app_durations(round_dir, args.iterations, args.seed)
            h = headless_run(round_dir, args.iterations, args.seed)
        else:
            h = headless_run(round_dir, args.iterations, args.seed)
            a, cpu, during = app_durations(round_dir, args.iterations, args.seed)
        headless += h
        app += a
        hm, am = statistics.mean(h), statistics.mean(a)
        ratios.append(am / hm)
        cpu_total.append(cpu / max(1, len(a)))
        cpu_during.append(during / max(1, len(a)))
        print(
            f"   round {n + 1}: headless {hm:.3f} s, app {am:.3f} s, ratio {am / hm:.2f}, "
            f"app CPU an iteration {cpu_during[-1]:.3f} s while the run ran, "
            f"{cpu_total[-1]:.3f} s with start-up and exit"
        )
    h, a = statistics.mean(headless), statistics.mean(app)
    print(f"   headless: mean {h:.3f} s over {len(headless)} iterations")
    print(f"   {how}: mean {a:.3f} s over {len(app)} iterations")
    print(
        f"   app/headless: mean of the rounds {statistics.mean(ratios):.2f}, "
        f"median {statistics.median(ratios):.2f} (goal <= 1.10)"
    )
    print(
        f"   app CPU seconds an iteration (its own process, drawing included), median: "
        f"{statistics.median(cpu_during):.3f} while the run ran, "
        f"{statistics.median(cpu_total):.3f} with start-up and exit"
    )


def lines(tmp: Path, args: argparse.Namespace) -> None:
    print(f"2. one child printing {args.lines:,} lines, in the app")
    result = chatty(tmp, args.lines)
    lat = sorted(result["latencies"])  # type: ignore[arg-type]
    print(f"   lines in the trace: {result['trace_lines']:,} (must be {args.lines:,})")
    print(f"   peak RSS of the app process: {result['rss_mb']:.0f} MB (goal < 150 MB)")
    if lat:
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        print(
            f"   key press answered while streaming: median "
            f"{statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms over {len(lat)} presses (goal: p95 < 100 ms)"
        )
    app_s = sum(result["duration"])  # type: ignore[arg-type]
    headless_s = sum(result["headless_duration"])  # type: ignore[arg-type]
    print(
        f"   the iteration: {app_s:.2f} s in the app, {headless_s:.2f} s headless, "
        f"ratio {app_s / headless_s:.2f} (goal <= 1.3)"
    )


if __name__ == "__main__":
    sys.exit(main())
