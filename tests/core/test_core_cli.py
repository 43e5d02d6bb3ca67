"""`race-explorer` end to end, as a process: exit codes, reports, traces, Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from core_helpers import (
    LIFECYCLE_HEAD,
    explorer_cmd,
    explorer_env,
    pid_alive,
    python_op,
    run_explorer,
    setup_op,
    wait_for_text,
    write_scenario,
)
from test_core_classify import PLANT_A_GHOST_ENTRY

from explorer.events import ChildOutput, ChildStarted, IterationFinished, RunFinished, RunStarted
from explorer.trace import TraceReader


def test_default_scenario_runs_clean_for_10_iterations(tmp_path: Path) -> None:
    trace, junit = tmp_path / "run.jsonl", tmp_path / "junit.xml"
    result = run_explorer("--headless", "--iterations", "10", "--trace", str(trace),
                          "--junit", str(junit), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "iteration 10/10: clean" in result.stdout
    assert "no unexplained break" in result.stdout
    assert f"trace: {trace}" in result.stdout

    reader = TraceReader(trace)
    assert reader.warning is None and reader.iterations == list(range(12))
    finished = reader.events()[-1]
    assert isinstance(finished, RunFinished) and finished.exit_code == 0
    assert finished.iterations == 10

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    # the setup, then each of 10 iterations and the reconcile × the scenario's invariants
    started = reader.events()[0]
    assert isinstance(started, RunStarted)
    count = len(started.invariants)
    assert (suite.get("tests"), suite.get("failures")) == (str(1 + 11 * count), "0")


def test_a_scenario_that_always_corrupts_fails_at_iteration_1(tmp_path: Path) -> None:
    body = (LIFECYCLE_HEAD + setup_op("pull beta", "extension", "pull", "@stress/beta")
            + python_op("plant a ghost entry", PLANT_A_GHOST_ENTRY)
            + python_op("list", "print(\"listing\")"))
    scenario = write_scenario(tmp_path, "corrupts", body, top="iterations = 3")
    trace, junit = tmp_path / "bad.jsonl", tmp_path / "junit.xml"
    env = explorer_env() | {"GITHUB_ACTIONS": "true"}
    result = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                          "--junit", str(junit), cwd=tmp_path, env=env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr

    first_failure = out.index("FAILED iteration 1/3")
    report = out[first_failure:]
    assert report.startswith("FAILED iteration 1/3 (new kind #1)\n  catalog_matches_lockfile "
                             "[persistent] the lockfile lists @stress/ghost@1.0.0")
    assert "  child 0 plant a ghost entry: exit 0" in report
    assert "  child 1 list: exit 0\n      | listing" in report
    assert f"race-explorer replay {trace} --iteration 1" in report
    assert ("::error title=race-explorer: catalog_matches_lockfile (persistent)::iteration 1/3: "
            "the lockfile lists @stress/ghost@1.0.0") in out
    # The ghost stays from iteration 1 to the end: one incident, counted once.
    assert re.search(r"persistent breaks\s*│\s*1\s*│", out)
    assert "failed in block(s) 1\n" in out

    failures = [e.iteration for e in TraceReader(trace).events()
                if isinstance(e, IterationFinished) and e.verdict == "failed"]
    assert failures[0] == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    # the ghost entry stays: one incident, counted once, where it began
    assert suite is not None and suite.get("failures") == "1"
    assert out.count("still broken since block 1, counted there") == 3
    assert "still broken since block 1, counted there" in ET.tostring(suite, encoding="unicode")

    # The replay command it printed works and tells the same story.
    replay = run_explorer("replay", str(trace), "--headless", "--iteration", "1", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert "[0 plant a ghost entry] exit 0" in replay.stdout
    assert "catalog_matches_lockfile [persistent] the lockfile lists @stress/ghost" in replay.stdout
    summary = run_explorer("replay", str(trace), "--headless", cwd=tmp_path)
    assert "iteration 1: failed" in summary.stdout and "run finished: 3 iteration(s), exit 1" \
        in summary.stdout
    missing = run_explorer("replay", str(trace), "--headless", "--iteration", "9", cwd=tmp_path)
    assert missing.returncode == 2 and "no iteration 9 (recorded: 0, 1, 2, 3, 4)" in missing.stderr


def test_sigint_mid_run_kills_every_child_and_leaves_a_readable_trace(tmp_path: Path) -> None:
    def hang(tag: str) -> str:
        return ("import subprocess, sys, threading; "
                'p = subprocess.Popen([sys.executable, "-c", '
                '"import threading; threading.Event().wait()"]); '
                f'print("grandchild-{tag}", p.pid, flush=True); threading.Event().wait()')

    scenario = write_scenario(tmp_path, "stuck", python_op("a", hang("a")) + python_op(
        "b", hang("b")), top="iterations = 3\ntimeout = 120")
    trace = tmp_path / "stuck.jsonl"
    proc = subprocess.Popen(
        explorer_cmd("--headless", "--scenario", str(scenario), "--trace", str(trace)),
        cwd=tmp_path, env=explorer_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        # Both children printed their grandchild (the ops' argv in the run's start holds
        # the same words, so match the output event's field).
        wait_for_text(trace, ['"line":"grandchild-a', '"line":"grandchild-b'], timeout=90)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted" in out

    reader = TraceReader(trace)
    assert reader.warning is None
    events = reader.events()
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.interrupted
    assert finished.exit_code == 130
    pids = [e.pid for e in events if isinstance(e, ChildStarted)]
    pids += [int(e.line.split()[1]) for e in events
             if isinstance(e, ChildOutput) and e.line.startswith("grandchild")]
    assert len(pids) == 4
    assert [pid for pid in pids if pid_alive(pid)] == []
