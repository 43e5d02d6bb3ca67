"""`replay --rerun` is a headless action with an exit code; the app only when asked for."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from explorer.events import RunStarted
from explorer.trace import TraceReader
from tests.core.core_helpers import explorer_cmd, explorer_env, run_explorer, wait_on_files


def test_rerun_without_headless_exits_with_its_code_and_no_app(
    race_trace: Path, tmp_path: Path
) -> None:
    # stdout is a pipe, not a terminal: an app opened here would wait for keys forever.
    try:
        done = run_explorer("replay", str(race_trace), "--iteration", "1", "--rerun",
                            cwd=tmp_path, timeout=90)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("replay --rerun did not exit: it opened the app") from exc
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced 1/1" in done.stdout


def test_app_after_a_rerun_must_go_with_rerun(race_trace: Path, tmp_path: Path) -> None:
    done = run_explorer("replay", str(race_trace), "--app", cwd=tmp_path)
    assert done.returncode == 2
    assert "--app goes with --rerun" in done.stderr


def test_printed_commands_are_absolute_and_work_from_anywhere(
    race_trace: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "recorded" / "run.jsonl"  # shrink keeps its case beside it
    trace.parent.mkdir()
    shutil.copyfile(race_trace, trace)
    done = run_explorer("shrink", str(trace), "--iteration", "1", "--budget", "1",
                        cwd=trace.parent)
    line = next(line for line in done.stdout.splitlines() if line.startswith("re-execute it: "))
    command = line.removeprefix("re-execute it: ")
    executable, _, rest = command.partition(" replay ")
    assert Path(executable).is_absolute() and Path(executable).is_file()
    assert rest.split()[0].startswith("/")
    # pasted in another directory, it runs as printed
    again = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,
                           timeout=90)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reproduced 1/1" in again.stdout


def started_reruns(runs: Path) -> int:
    """How many reruns in this runs dir have started their iteration (so own the Ctrl-C)."""
    return sum('"kind":"iteration_started"' in trace.read_text(encoding="utf-8", errors="replace")
               for trace in runs.glob("*.jsonl"))


def interrupt_when_started(args: list[str], cwd: Path, reruns: int) -> tuple[int, str, str]:
    """Run the explorer; Ctrl-C it once `reruns` re-executions have begun their iteration
    (waiting on file events in its runs dir); its exit code, stdout and stderr."""
    runs = cwd / ".race-explorer" / "runs"
    runs.mkdir(parents=True)
    process = subprocess.Popen(explorer_cmd(*args), cwd=cwd,
                               env=explorer_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert wait_on_files(
            runs, lambda: started_reruns(runs) >= reruns or process.poll() is not None, 90
        ), f"{reruns} rerun(s) never began"
        os.kill(process.pid, signal.SIGINT)
        out, errors = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing it started is left
    return process.returncode, out, errors


def test_ctrl_c_during_reruns_ends_them_all_with_130(race_trace: Path, tmp_path: Path) -> None:
    """A Ctrl-C in the second of five reruns ends it and the three still to come."""
    code, out, errors = interrupt_when_started(
        ["replay", str(race_trace), "--iteration", "1", "--rerun", "--times", "5"], tmp_path, 2)
    assert code == 130, out + errors
    assert "interrupted in rerun 2/5" in out and "reproduced 1/1 before it" in out, out
    assert "rerun 3/5" not in out and "reproduced 5" not in out, out
    assert "Traceback" not in errors, errors


def test_ctrl_c_while_shrink_reruns_the_failure_exits_130(race_trace: Path,
                                                          tmp_path: Path) -> None:
    """Its first rerun owns the Ctrl-C while it runs; the shrink must end with it, not go on
    to say the failure does not reproduce."""
    trace = tmp_path / "recorded.jsonl"
    shutil.copyfile(race_trace, trace)
    code, out, errors = interrupt_when_started(
        ["shrink", str(trace), "--iteration", "1", "--budget", "3"], tmp_path, 1)
    assert code == 130, out + errors
    assert "nothing to shrink" not in out and "tried " not in out, out
    assert "Traceback" not in errors, errors


def repo_dir_of(trace: Path) -> str:
    started = next(e for e in TraceReader(trace).events() if isinstance(e, RunStarted))
    return started.repo_dir


def test_a_rerun_runs_where_the_recorded_run_did_when_that_place_is_free(
    race_trace: Path, tmp_path: Path
) -> None:
    """A target may keep absolute paths in its stores (swamp's catalog does): a rerun in
    another directory would miss them, so it runs at the recorded repo dir when it is free."""
    recorded = Path(repo_dir_of(race_trace))
    assert not recorded.parent.exists()  # the recorded run's temp dir went with it
    done = run_explorer("replay", str(race_trace), "--iteration", "1", "--rerun",
                        cwd=tmp_path, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    rerun_trace = Path(done.stdout.split("(trace ")[1].split(")")[0])
    assert repo_dir_of(rerun_trace) == str(recorded)
    assert not recorded.parent.exists()  # made for the rerun, removed after it
    # Taken (here by a dir of someone else's), the rerun goes elsewhere, says so, and leaves
    # what it found alone.
    recorded.parent.mkdir()
    (recorded.parent / "kept").write_text("mine")
    try:
        again = run_explorer("replay", str(race_trace), "--iteration", "1", "--rerun",
                             cwd=tmp_path, timeout=90)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{recorded.parent} is taken (another run's, or kept with --work-dir), so the " \
            "reruns run elsewhere" in again.stdout
        other = Path(again.stdout.split("(trace ")[1].split(")")[0])
        assert repo_dir_of(other) != str(recorded)
        assert [p.name for p in recorded.parent.iterdir()] == ["kept"]
    finally:
        shutil.rmtree(recorded.parent)


def test_a_rerun_of_a_trace_from_elsewhere_says_why_it_runs_in_a_new_place(
    race_trace: Path, tmp_path: Path
) -> None:
    """A trace recorded on another machine names a repo dir whose parent is not here."""
    lines = race_trace.read_text(encoding="utf-8").splitlines(keepends=True)
    recorded = repo_dir_of(race_trace)
    moved = tmp_path / "from-ci.jsonl"
    lines[1] = lines[1].replace(json.dumps(recorded), json.dumps("/no/such/ci/w/repo"))
    moved.write_text("".join(lines), encoding="utf-8")
    done = run_explorer("replay", str(moved), "--iteration", "1", "--rerun", cwd=tmp_path,
                        timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "note: /no/such/ci/w cannot be made (No such file or directory), so the reruns " \
        "run elsewhere" in done.stdout
    assert not Path("/no/such").exists()
