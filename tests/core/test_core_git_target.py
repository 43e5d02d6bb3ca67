"""The second real target, git (scenarios/git.toml): its stores declared in its own words,
plugin invariants, run headless on the real `git`, and shown by the stores' names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from core_helpers import REPO_ROOT, run_explorer

from explorer.event_json import event_from_json
from explorer.events import StateSnapshot
from explorer.tui.state_view import StateView

SCENARIO = REPO_ROOT / "scenarios" / "git.toml"
PLUGINS = {"refs_resolve", "commits_reachable", "no_stale_locks", "commits_hold_their_own_file"}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_git_runs_headless_and_every_break_is_a_plugins(tmp_path: Path) -> None:
    trace = tmp_path / "git.jsonl"
    run = run_explorer("--headless", "--scenario", str(SCENARIO), "--iterations", "4",
                       "--trace", str(trace), cwd=tmp_path)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    events = [event_from_json(line) for line in trace.read_text().splitlines()[1:]]
    finished = [json.loads(line) for line in trace.read_text().splitlines()[1:]
                if '"kind":"iteration_finished"' in line]
    breaks = [b for f in finished for b in f["breaks"]]
    assert {b["invariant"] for b in breaks} <= PLUGINS
    assert run.returncode == (1 if any(b["classification"] == "persistent" for b in breaks)
                              else 0)
    # The setup's commit is in git's own stores, by the names the scenario gives them.
    end = [e for e in events if isinstance(e, StateSnapshot) and e.phase == "quiescent"][0]
    names = [s.name for s in end.stores]
    assert names == ["head", "refs", "packed_refs", "locks", "reflog"]
    assert next(s for s in end.stores if s.name == "head").items[0].text == "ref: refs/heads/main\n"
    shown = StateView(snapshot=end).document_lines()
    assert ("ref: refs/heads/main", True) in shown and ("(no locks)", False) in shown
    assert not any("lockfile" in line for line, _ in shown)
    account = run_explorer("replay", str(trace), "--headless", "--iteration", "1", cwd=tmp_path)
    assert "head: 21 bytes; refs has" in account.stdout and "lockfile" not in account.stdout
