"""A command that cannot be started (issue 10, item 4): exit 2 before the first iteration,
one line naming the command and its program, the trace closed with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import python_op, run_explorer, write_scenario

from explorer.events import IterationStarted, RunFinished
from explorer.trace import TraceReader

OP = python_op("list", 'print("listing")')


def refused(tmp_path: Path, body: str) -> tuple[str, list[object]]:
    scenario = write_scenario(tmp_path, "s", body, top="iterations = 2")
    trace = tmp_path / "run.jsonl"
    result = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                          cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    events = TraceReader(trace).events()
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.exit_code == 2, events[-1:]
    assert finished.error is not None and finished.error in result.stderr
    return result.stderr.strip(), events


@pytest.mark.parametrize(("body", "said"), [
    ('[[ops]]\nlabel = "pull alpha"\nargv = ["/x/y", "pull"]\n' + OP,
     "op 'pull alpha': command not found: /x/y"),
    ('[[setup]]\nlabel = "init"\nargv = ["no-such-program-xyz"]\n' + OP,
     "setup step 'init': command not found: no-such-program-xyz"),
    (OP + '[reconcile]\nlabel = "update"\nargv = ["{fixtures}/s.toml"]\n',
     "reconcile 'update': not executable: "),
])
def test_an_unrunnable_command_is_refused_before_block_0(
        tmp_path: Path, body: str, said: str) -> None:
    stderr, events = refused(tmp_path, body)
    assert stderr.startswith(f"race-explorer: {said}"), stderr
    assert not [e for e in events if isinstance(e, IterationStarted)]


def test_a_service_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    stderr, _ = refused(tmp_path, OP + '[[services]]\nname = "reg"\ncommand = ["/x/reg"]\n')
    assert stderr == ("race-explorer: service 'reg': cannot run /x/reg: "
                      "No such file or directory"), stderr


def test_a_program_in_the_repo_that_never_appears_stops_the_run_when_started(
        tmp_path: Path) -> None:
    stderr, events = refused(tmp_path, '[[ops]]\nlabel = "tool"\nargv = ["./bin/tool"]\n')
    assert stderr == ("race-explorer: child 0 'tool' of block 1: cannot run ./bin/tool: "
                      "No such file or directory"), stderr


def test_a_program_the_setup_builds_in_the_repo_is_not_refused(tmp_path: Path) -> None:
    build = ('import os, pathlib; p = pathlib.Path("bin/tool"); p.parent.mkdir(); '
             'p.write_text("#!/bin/sh\\necho built tool ran\\n"); os.chmod(p, 0o755)')
    body = (python_op("build", build).replace("[[ops]]", "[[setup]]")
            + '[[ops]]\nlabel = "tool"\nargv = ["./bin/tool"]\n'
            + '[[ops]]\nlabel = "tool by path"\nargv = ["{repo}/bin/tool"]\n')
    scenario = write_scenario(tmp_path, "s", body, top="iterations = 1\ninvariants = []")
    result = run_explorer("--headless", "--scenario", str(scenario), "--trace",
                          str(tmp_path / "t.jsonl"), cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "built tool ran" in (tmp_path / "t.jsonl").read_text()


def test_a_service_whose_first_line_never_ends_is_refused(tmp_path: Path) -> None:
    """Issue 10, item 9: 200 KB without a newline where the URL belongs."""
    code = 'import sys, time; sys.stdout.write("x" * 200000); sys.stdout.flush(); time.sleep(60)'
    service = (f'[[services]]\nname = "reg"\nstart_timeout = 30\n'
               f"command = [\"{{python}}\", \"-c\", '{code}']\n")
    stderr, _ = refused(tmp_path, OP + service)
    assert stderr.startswith("race-explorer: service reg (") and stderr.endswith(
        "printed no newline in its first 64 KiB: expected its URL alone on its first line"), stderr
