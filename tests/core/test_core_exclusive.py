"""What a run holds, and what happens when it cannot (issue 10, items 10 and 11): two runs
never share a trace or a work dir; a trace that cannot be written stops the run with one
line and exit 74, the trace cut back to its whole lines, the temporary work dir removed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from core_helpers import (
    explorer_cmd,
    explorer_env,
    python_op,
    run_explorer,
    wait_for_text,
    write_scenario,
)

from explorer.events import RunFinished
from explorer.trace import TraceReader

ONE_BLOCK = 'iterations = 1\ninvariants = []'
EXIT_CANNOT_RECORD = 74


def held_run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path, Path]:
    """A run whose one op waits until the test writes to a FIFO; returns it running that op."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    scenario = write_scenario(tmp_path, "held", python_op("wait", f'open("{gate}").read()'),
                              top=ONE_BLOCK)
    trace = tmp_path / "first.jsonl"
    proc = subprocess.Popen(explorer_cmd("--headless", "--scenario", str(scenario), "--trace",
                                         str(trace), *args),
                            cwd=tmp_path, env=explorer_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_text(trace, ['"kind":"child_started","t"', '"iteration":1'])
    return proc, scenario, trace


def release(proc: subprocess.Popen[str], tmp_path: Path) -> None:
    with (tmp_path / "gate").open("w") as gate:
        gate.write("go")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err


def test_a_second_run_on_the_same_trace_is_refused_naming_the_first(tmp_path: Path) -> None:
    first, scenario, trace = held_run(tmp_path)
    second = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                          cwd=tmp_path, timeout=60)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.strip() == (f"race-explorer: the trace {trace} is being written by "
                                     f"another run (pid {first.pid}): give another --trace")
    release(first, tmp_path)
    reader = TraceReader(trace)
    events = reader.events()
    assert reader.warning is None and isinstance(events[-1], RunFinished)
    assert events[-1].exit_code == 0


def test_a_second_run_in_the_same_work_dir_is_refused_naming_the_first(
        tmp_path: Path) -> None:
    work = tmp_path / "work"
    first, scenario, _ = held_run(tmp_path, "--work-dir", str(work))
    second = run_explorer("--headless", "--scenario", str(scenario), "--trace",
                          str(tmp_path / "second.jsonl"), "--work-dir", str(work),
                          cwd=tmp_path, timeout=60)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.strip() == (f"race-explorer: the work dir {work} is in use by "
                                     f"another run (pid {first.pid}): give another --work-dir")
    release(first, tmp_path)


def test_a_finished_runs_trace_and_work_dir_can_be_used_again(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, "s", python_op("quiet", "pass"), top=ONE_BLOCK)
    trace = tmp_path / "t.jsonl"
    for work in (tmp_path / "w1", tmp_path / "w2"):
        result = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                              "--work-dir", str(work), cwd=tmp_path, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    assert TraceReader(trace).warning is None


def test_a_trace_under_a_regular_file_exits_74_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a dir")
    trace = tmp_path / "file" / "t.jsonl"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    scenario = write_scenario(tmp_path, "s", python_op("quiet", "pass"), top=ONE_BLOCK)
    result = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                          cwd=tmp_path, timeout=60, env=explorer_env() | {"TMPDIR": str(scratch)})
    assert result.returncode == EXIT_CANNOT_RECORD, result.stdout + result.stderr
    assert result.stderr == f"race-explorer: cannot write the trace {trace}: Not a directory\n"
    assert list(scratch.iterdir()) == []


NOISY = 'for i in range(4000): print("line %d of a child that talks a lot, to fill a disk" % i)'


def test_a_full_disk_stops_the_run_with_74_and_a_readable_trace(tmp_path: Path) -> None:
    """ENOSPC on a 64 KiB tmpfs mounted in a mount namespace of the run's own."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp_path)],
            capture_output=True).returncode != 0:
        pytest.skip("no mount namespace for a small tmpfs here (needs root and unshare -m)")
    disk, scratch, out = tmp_path / "disk", tmp_path / "tmp", tmp_path / "copied.jsonl"
    disk.mkdir()
    scratch.mkdir()
    scenario = write_scenario(tmp_path, "s", python_op("noisy", NOISY), top=ONE_BLOCK)
    script = (f'mount -t tmpfs -o size=64k tmpfs {disk} || exit 99; "$@"; code=$?; '
              f"cp {disk}/t.jsonl {out}; exit $code")
    cmd = explorer_cmd("--headless", "--scenario", str(scenario), "--trace", f"{disk}/t.jsonl")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *cmd], cwd=tmp_path,
                            env=explorer_env() | {"TMPDIR": str(scratch)}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == EXIT_CANNOT_RECORD, result.stdout + result.stderr
    assert result.stderr == (f"race-explorer: cannot write the trace {disk}/t.jsonl: "
                             "No space left on device\n")
    reader = TraceReader(out)
    events = reader.events()
    assert reader.warning is None and len(events) > 100  # whole lines, up to the last one
    assert not isinstance(events[-1], RunFinished)
    assert list(scratch.iterdir()) == []  # the temporary work dir is gone
