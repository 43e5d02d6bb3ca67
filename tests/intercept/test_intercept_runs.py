"""Syscall checkpoints through the runner and the command line: unmodified targets under
random and PCT, their schedules re-executed exactly, their calls attributed to the right
child, and no child left behind by a killed explorer."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from explorer.events import (
    CheckpointReached,
    ChildStarted,
    Event,
    IterationFinished,
    RunStarted,
    ScheduleDecision,
)
from explorer.runner import Runner, RunOptions
from explorer.scenario import load_scenario
from explorer.trace import TraceReader
from tests.core.core_helpers import wait_for_text

HERE = Path(__file__).parent


def explorer(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def failing_iterations(trace: Path) -> list[int]:
    return [e.iteration for e in TraceReader(trace).events()
            if isinstance(e, IterationFinished) and e.verdict == "failed"]


# Two unmodified scripts adding one to a JSON counter with no lock (tests/intercept/rmw.py);
# a plugin says the counter must be even after each iteration (two adds an iteration).
RMW_SCENARIO = f"""
name = "rmw"
iterations = 4
invariants = ["counter:counter_is_even"]
[checkpoints]
mode = "syscalls"
[stores.state]
kind = "json"
path = "state.json"
[[setup]]
argv = ["{{python}}", "-c", 'import json; json.dump(dict(n=0), open("state.json", "w"))']
[[ops]]
label = "add a"
argv = ["{{python}}", "{HERE / 'rmw.py'}", "a"]
[[ops]]
label = "add b"
argv = ["{{python}}", "{HERE / 'rmw.py'}", "b"]
"""
COUNTER_PLUGIN = '''
import json


def counter_is_even(snapshot, outputs):
    n = json.loads(snapshot.text("state"))["n"]
    return [] if n % 2 == 0 else [f"the counter is {n}: an update was lost"]
'''


def test_a_recorded_lost_update_reruns_to_the_same_loss(tmp_path: Path) -> None:
    (tmp_path / "rmw.toml").write_text(RMW_SCENARIO, encoding="utf-8")
    (tmp_path / "counter.py").write_text(COUNTER_PLUGIN, encoding="utf-8")
    trace = tmp_path / "run.jsonl"
    run = explorer("--headless", "--scenario", "rmw.toml", "--strategy", "random",
                   "--seed", "2", "--trace", str(trace), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    events = TraceReader(trace).events()
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.checkpoints == "syscalls"
    first = failing_iterations(trace)[0]
    names = {e.name for e in events
             if isinstance(e, CheckpointReached) and e.iteration == first}
    assert names == {"open:state.json", "open:state.json.a.tmp", "open:state.json.b.tmp",
                     "rename:state.json"}

    again = explorer("replay", "--headless", str(trace), "--iteration", str(first), "--rerun",
                     "--times", "5", cwd=tmp_path)
    assert "reproduced 5/5" in again.stdout, again.stdout + again.stderr
    assert "an update was lost" in again.stdout
    assert "diverged" not in again.stdout


def test_pct_finds_the_seed_race_unmodified_and_reruns_it(tmp_path: Path) -> None:
    # The reference CLI's checkpoint hook is not offered: only its system calls are seen.
    trace = tmp_path / "run.jsonl"
    run = explorer("--headless", "--checkpoints", "syscalls", "--strategy", "pct",
                   "--profile", "swamp-w2", "--seed", "1", "--iterations", "2",
                   "--trace", str(trace), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    events = TraceReader(trace).events()
    names = [e.name for e in events if isinstance(e, CheckpointReached)]
    assert "rename:extensions/models/upstream_extensions.json" in names
    assert not any(n.startswith(("lock-", "lockfile-", "catalog-")) for n in names)  # hook's
    first = failing_iterations(trace)[0]

    again = explorer("replay", "--headless", str(trace), "--iteration", str(first), "--rerun",
                     "--times", "3", cwd=tmp_path)
    assert "reproduced 3/3" in again.stdout, again.stdout + again.stderr


THREADS_AND_SPAWN = f"""
name = "threads-and-spawn"
iterations = 1
invariants = []
[checkpoints]
groups = ["paths"]
[[ops]]
label = "threads"
argv = ["{{python}}", "{HERE / 'threads.py'}", "t", "3", "3"]
[[ops]]
label = "spawner"
argv = ["sh", "-c", "touch s-parent && sh -c 'touch s-child && mv s-child s-moved'"]
"""


def test_threads_and_subprocesses_are_attributed_to_their_child(tmp_path: Path) -> None:
    path = tmp_path / "threads.toml"
    path.write_text(THREADS_AND_SPAWN, encoding="utf-8")
    events: list[Event] = []
    runner = Runner(load_scenario(path), RunOptions(
        trace_path=tmp_path / "run.jsonl", strategy="random", seed=4, checkpoints="syscalls"))
    runner.handle_signals = False
    runner.subscribe(events.append)
    assert asyncio.run(asyncio.wait_for(runner.run(), 60)).exit_code == 0
    reached = [e for e in events if isinstance(e, CheckpointReached)]
    pids = {e.child: e.pid for e in events if isinstance(e, ChildStarted) and e.iteration == 1}

    threaded = [e for e in reached if e.child == 0]
    assert sorted(e.name for e in threaded) == sorted(
        f"{call}:t-{t}-{r}{suffix}" for t in range(3) for r in range(3)
        for call, suffix in (("open", ""), ("rename", ".done")))
    assert len({e.thread for e in threaded}) == 3  # the workers, not the main thread
    assert pids[0] not in {e.thread for e in threaded}
    assert all(e.path == str(runner.repo_dir / e.name.split(":")[1]) for e in threaded)

    spawned = [e for e in reached if e.child == 1]
    assert [e.name for e in spawned] == ["open:s-parent", "open:s-child", "rename:s-moved"]
    assert len({e.thread for e in spawned}) == 3  # touch, touch and mv: three processes
    assert pids[1] not in {e.thread for e in spawned}  # sh itself made none of them
    decisions = [e for e in events if isinstance(e, ScheduleDecision)]
    assert {d.chosen for d in decisions if d.action == "run"} == {0, 1}


FOREVER = """
name = "forever"
iterations = 1
invariants = []
[checkpoints]
mode = "syscalls"
[[ops]]
argv = ["{python}", "-c", "{forever}", "a"]
[[ops]]
argv = ["{python}", "-c", "{forever}", "b"]
""".replace("{forever}", "import sys\\nwhile True:\\n try: open(sys.argv[1], 'w').close()\\n"
                         " except OSError: pass")  # ENOSYS once the explorer is gone: spin on


def _exited(pid: int, timeout: float) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_killing_the_explorer_leaves_no_child_alive(tmp_path: Path) -> None:
    (tmp_path / "forever.toml").write_text(FOREVER, encoding="utf-8")
    trace = tmp_path / "run.jsonl"
    explorer_process = subprocess.Popen(
        [sys.executable, "-m", "explorer", "--headless", "--scenario", "forever.toml",
         "--strategy", "pct", "--trace", str(trace)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Both children started, and decisions are being made: one runs, the other is held.
        text = wait_for_text(trace, ['"step":5,'], timeout=60)
    finally:
        explorer_process.send_signal(signal.SIGKILL)
        explorer_process.wait()
    records = [json.loads(line) for line in text.splitlines()[1:] if line.endswith("}")]
    pids = [r["pid"] for r in records if r["kind"] == "child_started" and r["iteration"] == 1]
    assert len(pids) == 2, text[-2000:]
    deadline = time.monotonic() + 20
    assert all(_exited(pid, max(0.0, deadline - time.monotonic())) for pid in pids)
    assert not any(json.loads(line).get("kind") == "run_finished"
                   for line in trace.read_text().splitlines()[1:])
