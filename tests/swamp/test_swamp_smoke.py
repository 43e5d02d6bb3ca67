"""The real swamp CLI under race-explorer, headless: setup and two iterations of the
seed's four concurrent calls, as `make swamp-run` does. Slow (~15 s): marked `swamp`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "swamp.toml"
SHARED_COPY = ROOT / ".race-explorer" / "swamp" / "swamp.sh"  # made by `make swamp`
CLASSES = {"tolerated", "healed", "persistent"}

pytestmark = pytest.mark.swamp


def swamp_cli() -> str:
    """$SWAMP, else the copy `make swamp` set up; in CI its absence is a failure."""
    if os.environ.get("SWAMP"):
        return os.environ["SWAMP"]
    if SHARED_COPY.exists():
        return str(SHARED_COPY)
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the real swamp CLI is missing ({SHARED_COPY}): "
                    "`make swamp` must run before the tests")
    pytest.skip(f"the real swamp CLI is not set up ({SHARED_COPY}): run `make swamp` "
                "or set SWAMP=/path/to/swamp")


def events(trace: Path) -> list[dict[str, Any]]:
    """The trace's events (its first line is the header, which has no `kind`)."""
    lines = trace.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "race-explorer-trace"
    return [json.loads(line) for line in lines[1:]]


def test_the_real_cli_runs_two_iterations_and_every_break_is_classified(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "SWAMP": swamp_cli()}
    trace = tmp_path / "swamp.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--scenario", str(SCENARIO),
         "--iterations", "2", "--trace", str(trace)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    assert run.returncode in (0, 1), run.stdout + run.stderr  # not a usage error or crash
    recorded = events(trace)
    finished = [e for e in recorded if e["kind"] == "run_finished"]
    assert finished and finished[0]["iterations"] == 2 and not finished[0]["interrupted"]

    # Setup (iteration 0): init and both pulls succeeded against the fixture registry.
    setup_exits = [e["returncode"] for e in recorded
                   if e["kind"] == "child_exited" and e["iteration"] == 0]
    assert setup_exits == [0, 0, 0]

    # The stores were found where swamp keeps them, in swamp's own shapes: the lockfile
    # with repo-relative files, the catalog rows read from its real table.
    snapshots = [{store["name"]: store["items"] for store in e["stores"]}
                 for e in recorded if e["kind"] == "state_snapshot"]

    def catalog_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [dict(zip(t["columns"], row, strict=True))
                for item in items for t in item["tables"] for row in t["rows"]]

    assert any(
        ".swamp/pulled-extensions/@stress/beta/models/noop.ts" in str(s["lockfile"])
        and {"name": "@stress/beta", "type": "@stress/beta-model", "state": "Indexed"}.items()
        <= next((r for r in catalog_rows(s["catalog"]) if r["name"] == "@stress/beta"),
                {}).items()
        and "@stress/beta/models/noop.ts" in s["tree"][0]["files"]
        for s in snapshots
    ), "no snapshot shows beta in all three stores"

    # Every break found has a class, and the exit code follows the failing ones.
    breaks = [b for e in recorded if e["kind"] == "iteration_finished" for b in e["breaks"]]
    assert all(b["classification"] in CLASSES for b in breaks), breaks
    failing = [b for b in breaks if b["classification"] in ("healed", "persistent")]
    assert run.returncode == (1 if failing else 0)
