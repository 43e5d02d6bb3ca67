"""The run request: made once by the command line, loaded the same way by the runner's process."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import run_explorer

from explorer.request import RunError, RunOptions, RunRequest

MINIMAL = '[[ops]]\nargv = ["{python}", "-c", "pass"]\n'


def test_a_request_survives_the_trip_to_the_runners_process(tmp_path: Path) -> None:
    options = RunOptions(seed=4, iterations=2, profile="swamp-w2", bugs=["a", "b"],
                         work_dir=tmp_path / "work", strategy="pct", depth=2, kill_rate=0.1)
    sent = RunRequest.load(None, options)
    assert sent.options.trace_path is not None  # decided here, not again in each process
    got = RunRequest.from_json(sent.to_json())
    assert got.options == sent.options and got.argv == sent.argv
    assert got.scenario.name == sent.scenario.name == "default"


def test_a_scenario_file_is_sent_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "s.toml").write_text('name = "mine"\n' + MINIMAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    sent = RunRequest.load(Path("s.toml"), RunOptions())
    text = sent.to_json()
    monkeypatch.chdir("/")  # the receiving end may stand anywhere
    got = RunRequest.from_json(text)
    assert got.scenario.path == tmp_path / "s.toml" and got.scenario.name == "mine"
    assert got.options.trace_path == sent.options.trace_path


def test_an_option_the_scenario_ignores_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(RunError, match=r"--bugs has no effect: scenario s uses no \{bugs\}"):
        RunRequest.load(tmp_path / "s.toml", RunOptions(bugs=["torn-lockfile-write"]))
    result = run_explorer("--headless", "--scenario", str(tmp_path / "s.toml"),
                          "--profile", "swamp-w2", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "--profile has no effect: scenario s uses no {profile} placeholder" in result.stderr
    assert not (tmp_path / ".race-explorer").exists()  # nothing started
