"""The runner in its own process (explorer.serve): the app's end of the pipe and the runner's."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.children import CHUNK, read_lines
from explorer.events import (
    ChildOutput,
    ChildStarted,
    Event,
    IterationFinished,
    IterationStarted,
    RunStarted,
)
from explorer.runner import RunError, RunOptions
from explorer.scenario import load_scenario
from explorer.serve import RunnerProcess
from explorer.trace import TraceReader
from tests.core.core_helpers import (
    REPO_ROOT,
    explorer_env,
    pid_alive,
    python_op,
    wait_for_text,
    write_scenario,
)


async def test_the_app_gets_the_very_events_the_trace_records(tmp_path: Path) -> None:
    options = RunOptions(iterations=1, trace_path=tmp_path / "run.jsonl", work_dir=tmp_path)
    runner = RunnerProcess(load_scenario(None), options)
    events: list[Event] = []
    runner.subscribe(events.append)
    finished = await runner.run()
    assert finished.exit_code == 0 and not finished.interrupted
    recorded = list(TraceReader(tmp_path / "run.jsonl").events())
    assert [e.to_json() for e in events] == [e.to_json() for e in recorded]
    assert isinstance(events[0], RunStarted) and events[-1] == finished
    assert any(isinstance(e, ChildStarted) for e in events)


async def test_pause_and_one_more_reach_the_runner_process(tmp_path: Path) -> None:
    options = RunOptions(iterations=3, trace_path=tmp_path / "run.jsonl", work_dir=tmp_path)
    runner = RunnerProcess(load_scenario(None), options)
    started: list[int] = []

    def steer(event: Event) -> None:
        if isinstance(event, RunStarted):
            runner.pause()
        elif isinstance(event, IterationStarted):
            started.append(event.iteration)
        elif isinstance(event, IterationFinished) and event.iteration == 0:
            runner.one_more()  # paused after the setup block: exactly iteration 1
        elif isinstance(event, IterationFinished) and event.iteration == 1:
            runner.interrupt()  # still paused: iteration 2 never starts

    runner.subscribe(steer)
    finished = await runner.run()
    assert finished.interrupted and finished.exit_code == 130
    assert started == [0, 1] and finished.iterations == 1


async def test_a_scenario_the_process_cannot_run_is_a_clear_error(tmp_path: Path) -> None:
    options = RunOptions(strategy="no-such-strategy", trace_path=tmp_path / "run.jsonl")
    runner = RunnerProcess(load_scenario(None), options)
    try:
        await runner.run()
    except RunError as exc:
        assert "no-such-strategy" in str(exc)
    else:
        raise AssertionError("the run should have failed")


FLOOD_LINES = 20_000  # some 2 MB of events: thirty times what a pipe holds


def exited_within(pid: int, timeout: float) -> bool:
    """Block the calling thread until the process `pid` has exited, at most `timeout` s."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # gone and reaped already
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)


async def test_the_runner_process_never_waits_for_a_stalled_app(tmp_path: Path) -> None:
    """The app's loop may be busy (a frame, a key) for a long while: the runner's process
    hands it its events all the same, ends, and every line arrives, in order."""
    flood = f"for i in range({FLOOD_LINES}): print(i)"
    scenario = write_scenario(tmp_path, "flood", python_op("flood", flood), top="iterations = 1")
    options = RunOptions(trace_path=tmp_path / "run.jsonl", work_dir=tmp_path / "work")
    runner = RunnerProcess(load_scenario(scenario), options)
    events: list[Event] = []
    flooding = asyncio.Event()

    def arrive(event: Event) -> None:
        events.append(event)
        if isinstance(event, ChildOutput):
            flooding.set()

    runner.subscribe(arrive)
    run = asyncio.create_task(runner.run())
    await asyncio.wait_for(flooding.wait(), 60)
    assert runner.pid is not None
    # The loop stops here, reading nothing, until the runner's process is over.
    assert exited_within(runner.pid, 60), "the runner's process waited on the app's loop"
    finished = await asyncio.wait_for(run, 60)
    assert finished.exit_code == 0
    lines = [e.line for e in events if isinstance(e, ChildOutput)]
    assert lines == [str(i) for i in range(FLOOD_LINES)]
    assert events[-1] == finished


APP = """
import asyncio, sys
from pathlib import Path
from explorer.runner import RunOptions
from explorer.scenario import load_scenario
from explorer.serve import RunnerProcess

async def main():
    runner = RunnerProcess(load_scenario(None), RunOptions(
        iterations=100, trace_path=Path(sys.argv[1]), work_dir=Path(sys.argv[2])))
    runner.subscribe(lambda event: print(runner.pid, flush=True))
    await runner.run()

asyncio.run(main())
"""


def test_the_children_die_with_the_app_however_it_dies(tmp_path: Path) -> None:
    """SIGKILL leaves the app no say: the runner's process sees its stdin close."""
    trace = tmp_path / "run.jsonl"
    app = subprocess.Popen(
        [sys.executable, "-c", APP, str(trace), str(tmp_path)],
        cwd=REPO_ROOT, env=explorer_env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        serve_pid = int(app.stdout.readline())
        text = wait_for_text(trace, ['"kind":"child_started"'])
        children = [json.loads(line)["pid"] for line in text.splitlines()
                    if '"kind":"child_started"' in line]  # fmt: skip
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
        text = wait_for_text(trace, ['"kind":"run_finished"'])
        assert '"interrupted":true' in text.splitlines()[-1]
        deadline = time.monotonic() + 30
        tick = threading.Event()
        while (pid_alive(serve_pid) or any(map(pid_alive, children))) and (
            time.monotonic() < deadline
        ):
            tick.wait(0.1)
        assert not pid_alive(serve_pid)
        assert not any(map(pid_alive, children))
    finally:
        if app.poll() is None:
            os.kill(app.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "data",
    [b"", b"a\nb\n", b"a\n\nb", b"x" * (CHUNK * 3 + 5) + b"\ny", b"\r\n\n"],
    ids=["empty", "ended", "blank-and-tail", "longer-than-chunks", "bare-newlines"],
)
async def test_read_lines_gives_every_line_however_the_chunks_fall(data: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()  # an ended last line leaves no tail
    assert [line async for line in read_lines(reader)] == expected
