"""The runner on tiny `python -c` scenarios: the event stream, output, timeouts, live checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from core_helpers import pid_alive, python_op, run_scenario, write_scenario

from explorer.archive import restore_archive
from explorer.events import (
    ChildExited,
    ChildOutput,
    ChildStarted,
    Event,
    FileChanged,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    StateSnapshot,
)
from explorer.runner import RunError, Runner
from explorer.trace import TraceReader

LOCKFILE = "extensions/models/upstream_extensions.json"
MAKE_LOCKFILE = (f'import os; os.makedirs("extensions/models", exist_ok=True); '
                 f'open("{LOCKFILE}", "w").write("{{}}")')
HANG = "import threading; threading.Event().wait()"
TOP = ('iterations = 2\ninvariants = ["lockfile_parses", "tree_matches_lockfile"]\n'
       f'[stores.lockfile]\nkind = "json"\npath = "{LOCKFILE}"\n'
       '[stores.tree]\nkind = "tree"\npath = ".swamp/pulled-extensions"\n')


def setup_python(code: str) -> str:
    return f"[[setup]]\nlabel = \"make lockfile\"\nargv = [\"{{python}}\", \"-c\", '{code}']\n"


def of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


async def test_event_stream_of_a_clean_run(tmp_path: Path) -> None:
    body = setup_python(MAKE_LOCKFILE) + python_op(
        "talk", 'import sys; print("out"); print("err", file=sys.stderr); '
                'open("note.txt", "a").write("x")') + python_op("quiet", "pass")
    path = write_scenario(tmp_path, "clean", body, top=TOP)
    finished, events, runner = await run_scenario(path, tmp_path)

    assert finished.exit_code == 0 and finished.iterations == 2 and not finished.interrupted
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    starts = of(events, IterationStarted)
    assert [(s.iteration, s.block) for s in starts] == [
        (0, "setup"), (1, "iteration"), (2, "iteration"), (3, "reconcile")]
    assert [f.verdict for f in of(events, IterationFinished)] == ["clean"] * 4
    times = [e.t for e in events]
    assert times == sorted(times) and times[0] >= 0
    lines = [(e.iteration, e.child, e.stream, e.line) for e in of(events, ChildOutput)]
    assert (1, 0, "stdout", "out") in lines and (1, 0, "stderr", "err") in lines
    # The setup's lockfile and each iteration's note are seen by the watcher, in their block.
    changes = {(e.iteration, path) for e in of(events, FileChanged) for _, path in e.changes}
    assert (0, LOCKFILE) in changes and (1, "note.txt") in changes and (2, "note.txt") in changes
    phases = [(s.iteration, s.phase) for s in of(events, StateSnapshot) if s.phase != "live"]
    assert phases == [(0, "start"), (0, "quiescent"), (1, "start"), (1, "quiescent"),
                      (2, "start"), (2, "quiescent"), (3, "start"), (3, "final")]
    assert all(s.archive for s in of(events, StateSnapshot) if s.phase == "start")
    assert TraceReader(runner.trace_path).events() == events


async def test_long_lines_and_invalid_utf8_are_kept(tmp_path: Path) -> None:
    code = ('import sys; sys.stdout.buffer.write(b"a" * 300000 + b"\\n\\xff\\xfebad\\n'
            'no newline at the end"); sys.stdout.flush()')
    path = write_scenario(tmp_path, "lines", python_op("noisy", code), top="iterations = 1\n")
    finished, events, _ = await run_scenario(path, tmp_path)
    lines = [e.line for e in of(events, ChildOutput) if e.iteration == 1]
    assert lines == ["a" * 300000, "\ufffd\ufffdbad", "no newline at the end"]
    assert finished.exit_code == 0


async def test_hung_child_is_killed_with_its_group_and_reported(tmp_path: Path) -> None:
    code = ('import subprocess, sys, threading; '
            f'p = subprocess.Popen([sys.executable, "-c", "{HANG}"]); '
            'print("grandchild", p.pid, flush=True); threading.Event().wait()')
    body = python_op("hangs", code, timeout=5) + python_op("fine", "pass")
    path = write_scenario(tmp_path, "hung", body, top="iterations = 1\n")
    finished, events, _ = await run_scenario(path, tmp_path)

    exits = {e.child: e for e in of(events, ChildExited) if e.iteration == 1}
    assert exits[0].killed == "timeout" and exits[0].returncode == -9
    assert exits[1].killed is None and exits[1].returncode == 0
    [it1] = [f for f in of(events, IterationFinished) if f.iteration == 1]
    assert it1.verdict == "failed"
    assert [b.invariant for b in it1.breaks] == ["children_finish_in_time"]
    assert "child 0 (hangs) was still running after 5 s" in it1.breaks[0].message
    assert finished.exit_code == 1
    [child] = [e.pid for e in of(events, ChildStarted) if e.iteration == 1 and e.child == 0]
    [grand] = [int(e.line.split()[1]) for e in of(events, ChildOutput)
               if e.line.startswith("grandchild")]
    assert not pid_alive(child) and not pid_alive(grand)


async def test_always_invariant_broken_only_while_children_run_fails_the_iteration(
    tmp_path: Path,
) -> None:
    """A torn lockfile that is mended before the end is still caught, live."""
    code = (f'import os, threading; open("{LOCKFILE}", "w").write("{{torn"); '
            'go = threading.Event()\n'
            'while not os.path.exists("../go"): go.wait(0.01)\n'
            f'open("{LOCKFILE}", "w").write("{{}}")')
    body = setup_python(MAKE_LOCKFILE) + python_op("tears", code, timeout=30)
    path = write_scenario(tmp_path, "torn", body,
                          top=TOP.replace("iterations = 2", "iterations = 1"))

    def release_when_seen(event: Event, runner: Runner) -> None:
        # The child mends the file only once the explorer has seen it torn.
        if isinstance(event, InvariantChecked) and event.phase == "live" and event.breaks:
            (runner.repo_dir.parent / "go").touch()

    finished, events, _ = await run_scenario(path, tmp_path, on_event=release_when_seen)
    live = [e for e in of(events, InvariantChecked)
            if e.phase == "live" and e.invariant == "lockfile_parses" and e.breaks]
    assert live and "not valid JSON" in live[0].breaks[0].message
    [it1] = [f for f in of(events, IterationFinished) if f.iteration == 1]
    [brk] = it1.breaks
    assert brk.invariant == "lockfile_parses" and brk.is_failure
    assert brk.message.startswith("while the children ran: the lockfile is not valid JSON")
    quiescent = [s for s in of(events, StateSnapshot)
                 if s.iteration == 1 and s.phase == "quiescent"]
    assert quiescent[0].stores[0].items[0].text == "{}"  # mended by the end: only live saw it
    assert finished.exit_code == 1


async def test_interrupt_kills_children_and_ends_the_run(tmp_path: Path) -> None:
    body = python_op("a", HANG) + python_op("b", HANG)
    path = write_scenario(tmp_path, "stuck", body, top="iterations = 5\n")
    started: list[int] = []

    def interrupt_when_both_run(event: Event, runner: Runner) -> None:
        if isinstance(event, ChildStarted) and event.iteration == 1:
            started.append(event.pid)
            if len(started) == 2:
                asyncio.get_running_loop().call_soon(runner.interrupt)

    finished, events, runner = await asyncio.wait_for(
        run_scenario(path, tmp_path, on_event=interrupt_when_both_run), 60)
    assert finished.interrupted and finished.exit_code == 130 and finished.iterations == 0
    assert {e.killed for e in of(events, ChildExited) if e.iteration == 1} == {"interrupt"}
    assert not any(pid_alive(pid) for pid in started)
    reader = TraceReader(runner.trace_path)
    assert reader.warning is None and reader.events()[-1] == finished


async def test_stopping_through_run_control_skips_the_rest(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "stop", python_op("x", "pass"), top="iterations = 10\n")

    def stop_after_two(event: Event, runner: Runner) -> None:
        if isinstance(event, IterationFinished) and event.iteration == 2:
            runner.control.stop()

    finished, events, _ = await run_scenario(path, tmp_path, on_event=stop_after_two)
    assert finished.iterations == 2 and not finished.interrupted
    assert [s.iteration for s in of(events, IterationStarted)] == [0, 1, 2]


async def test_concurrency_limits_children_running_at_once(tmp_path: Path) -> None:
    body = python_op("first", "pass") + python_op("second", "pass")
    path = write_scenario(tmp_path, "serial", body, top="iterations = 1\nconcurrency = 1")
    _, events, _ = await run_scenario(path, tmp_path)
    order = [(type(e).__name__, e.child) for e in events
             if isinstance(e, ChildStarted | ChildExited) and e.iteration == 1]
    assert order == [("ChildStarted", 0), ("ChildExited", 0),
                     ("ChildStarted", 1), ("ChildExited", 1)]


async def test_failing_setup_step_stops_the_run(tmp_path: Path) -> None:
    body = (setup_python('import sys; print("no repo for you", file=sys.stderr); sys.exit(3)')
            + setup_python("pass") + python_op("never", "pass"))
    path = write_scenario(tmp_path, "nosetup", body, top="iterations = 3")
    finished, events, _ = await run_scenario(path, tmp_path)
    assert finished.exit_code == 1 and finished.iterations == 0
    [setup] = of(events, IterationFinished)
    [brk] = setup.breaks
    assert (brk.invariant, brk.classification) == ("setup_succeeded", "persistent")
    assert brk.message == "setup step 0 (make lockfile) exited 3: no repo for you"
    assert [e.child for e in of(events, ChildStarted)] == [0]  # step 1 never ran


async def test_a_service_that_prints_no_url_is_a_run_error(tmp_path: Path) -> None:
    body = ('[[services]]\nname = "api"\n'
            'command = ["{python}", "-c", "import sys; print(\\"boom\\", file=sys.stderr)"]\n'
            + python_op("x", "pass"))
    path = write_scenario(tmp_path, "noservice", body, top="iterations = 1")
    with pytest.raises(RunError, match=r"service api .* exited within 20 s: boom"):
        await run_scenario(path, tmp_path)


async def test_plugin_invariant_on_a_custom_layout(tmp_path: Path) -> None:
    """A user's own CLI: its stores elsewhere, its own check; no reconcile, so no healing."""
    (tmp_path / "core_plugin_checks.py").write_text(
        "def no_marker(snapshot, outputs):\n"
        "    return [f'{f} should not exist' for f in snapshot.files('data')\n"
        "            if f.endswith('marker')]\n")
    body = ('invariants = [{ check = "lockfile_parses", with = { lockfile = "state" } },\n'
            '              "core_plugin_checks:no_marker"]\n'
            '[stores.state]\nkind = "json"\npath = "state.json"\n'
            '[stores.data]\nkind = "tree"\npath = "data"\n'
            + python_op("marks", 'import os; os.makedirs("data", exist_ok=True); '
                                 'open("data/marker", "w").write("")'))
    path = write_scenario(tmp_path, "custom", body, top="iterations = 1")
    finished, events, _ = await run_scenario(path, tmp_path)
    [it1] = [f for f in of(events, IterationFinished) if f.iteration == 1]
    assert [(b.invariant, b.message, b.classification) for b in it1.breaks] == [
        ("no_marker", "marker should not exist", "persistent")]
    assert finished.exit_code == 1


async def test_a_block_starts_from_what_is_on_disk_after_a_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a block is reused as the next start only when nothing could intervene."""
    monkeypatch.setattr("explorer.edges.REUSE_WINDOW", 0.0)  # as if paused for long
    body = '[stores.all]\nkind = "tree"\npath = "."\n' + python_op("x", "pass")
    path = write_scenario(tmp_path, "paused", body, top="iterations = 2")

    def touch_between_blocks(event: Event, runner: Runner) -> None:
        if isinstance(event, IterationFinished) and event.iteration == 1:
            (runner.repo_dir / "edited-while-paused").write_text("")

    _, events, _ = await run_scenario(path, tmp_path, on_event=touch_between_blocks)
    [start2] = [s for s in of(events, StateSnapshot) if s.iteration == 2 and s.phase == "start"]
    assert "edited-while-paused" in start2.stores[0].items[0].files
    restored = tmp_path / "restored"
    restore_archive(start2.archive or "", restored)
    assert (restored / "edited-while-paused").exists()
