"""Controlled strategies on a target that never reaches a checkpoint, and a checkpoint mode
that cannot work here."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from explorer.cli import cli
from explorer.events import RunFinished
from explorer.scheduling import factory
from explorer.trace import TraceReader

REPO_ROOT = Path(__file__).resolve().parents[2]

# Two children that touch the repo and exit, with no checkpoint hook.
NO_HOOK = """
name = "no-hook"
iterations = 4
invariants = []
[[ops]]
argv = ["{python}", "-c", "open('a', 'w').write('a')"]
[[ops]]
argv = ["{python}", "-c", "open('b', 'w').write('b')"]
"""


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_a_target_without_checkpoints_runs_to_the_end_and_is_told(
    tmp_path: Path, strategy: str
) -> None:
    scenario, trace = tmp_path / "no-hook.toml", tmp_path / "run.jsonl"
    scenario.write_text(NO_HOOK, encoding="utf-8")
    # Before the fix the run hung after the first iteration: a timeout here is the failure.
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--scenario", str(scenario),
         "--strategy", strategy, "--trace", str(trace)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "iteration 4/4" in result.stdout
    assert "no child reached a checkpoint in 4 controlled iterations (hook checkpoints)" \
        in result.stdout
    assert "try --checkpoints syscalls" in result.stdout
    finished = TraceReader(trace).events()[-1]
    assert isinstance(finished, RunFinished) and len(finished.notes) == 1


def test_a_run_with_checkpoints_has_no_such_note(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--iterations", "1",
         "--strategy", "random", "--trace", str(tmp_path / "run.jsonl")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no child reached a checkpoint" not in result.stdout


def test_syscalls_mode_where_it_cannot_work_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unavailable = dataclasses.replace(factory.CHECKPOINT_MODES["syscalls"],
                                      unavailable=lambda: "seccomp is refused in this container")
    monkeypatch.setitem(factory.CHECKPOINT_MODES, "syscalls", unavailable)
    trace = tmp_path / "run.jsonl"
    args = ["--headless", "--iterations", "1", "--trace", str(trace), "--checkpoints", "syscalls"]

    result = CliRunner().invoke(cli, [*args, "--strategy", "pct"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "--checkpoints syscalls cannot work here: seccomp is refused in this container" \
        in result.output
    assert "--checkpoints hook" in result.output and "--strategy os" in result.output
    assert not trace.exists()

    # Uncontrolled, the mode is not used, so it need not work.
    result = CliRunner().invoke(cli, [*args, "--strategy", "os"])
    assert result.exit_code == 0, result.output
