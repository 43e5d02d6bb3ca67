"""Classification: one break of each kind, produced deterministically on the reference CLI."""

from __future__ import annotations

from pathlib import Path

from core_helpers import (
    LIFECYCLE_HEAD,
    PARTIAL_TRANSIENT,
    python_op,
    run_scenario,
    setup_op,
    write_scenario,
)

from explorer.classify import classify, distinct, explaining_transient
from explorer.events import Break, InvariantChecked, IterationFinished
from explorer.invariants import Transcript
from explorer.scenario import load_scenario

# Pull @stress/beta while this child holds the catalog's write lock: the pull's catalog
# write times out, leaving files and lockfile entry behind (the documented partial apply).
PULL_AGAINST_HELD_CATALOG = (
    "import sqlite3, subprocess, sys; "
    'con = sqlite3.connect(".swamp/_extension_catalog.db", isolation_level=None); '
    'con.execute("BEGIN IMMEDIATE"); '
    'subprocess.run([sys.executable, "-m", "lifecycle", "--repo-dir", ".", "extension", '
    '"pull", "@stress/beta"]); '
    'con.execute("ROLLBACK")'
)
# A lockfile entry for an extension the registry never had: update cannot fetch it, so
# nothing reconciles it.
PLANT_A_GHOST_ENTRY = (
    'import json; p = "extensions/models/upstream_extensions.json"; d = json.load(open(p)); '
    'd["@stress/ghost"] = {"version": "1.0.0", "files": [], "pulledAt": "x", "checksum": "0"}; '
    'open(p, "w").write(json.dumps(d))'
)


def iteration(events: list, n: int) -> IterationFinished:
    [found] = [e for e in events if isinstance(e, IterationFinished) and e.iteration == n]
    return found


async def test_partial_apply_explained_by_its_transient_is_tolerated(tmp_path: Path) -> None:
    body = LIFECYCLE_HEAD + python_op("pull beta vs held catalog", PULL_AGAINST_HELD_CATALOG)
    path = write_scenario(tmp_path, "tolerated", body + PARTIAL_TRANSIENT, top="iterations = 1")
    finished, events, _ = await run_scenario(path, tmp_path)

    it1 = iteration(events, 1)
    [brk] = it1.breaks
    assert (brk.invariant, brk.extension, brk.classification) == (
        "catalog_matches_lockfile", "@stress/beta", "tolerated")
    assert it1.verdict == "tolerated"
    assert iteration(events, 2).verdict == "clean"  # the final update reconciled it
    assert finished.counts == {"tolerated": 1, "healed": 0, "persistent": 0}
    assert finished.exit_code == 0


async def test_the_same_break_without_a_documented_transient_is_healed(tmp_path: Path) -> None:
    body = LIFECYCLE_HEAD + python_op("pull beta vs held catalog", PULL_AGAINST_HELD_CATALOG)
    path = write_scenario(tmp_path, "healed", body, top="iterations = 1")
    finished, events, _ = await run_scenario(path, tmp_path)

    [brk] = iteration(events, 1).breaks
    assert (brk.invariant, brk.classification) == ("catalog_matches_lockfile", "healed")
    assert iteration(events, 1).verdict == "failed"
    quiescent = [e for e in events if isinstance(e, InvariantChecked) and e.iteration == 1
                 and e.phase == "quiescent" and e.invariant == "catalog_matches_lockfile"]
    assert quiescent[0].breaks == [brk]  # the panel sees the classified break too
    assert finished.counts == {"tolerated": 0, "healed": 1, "persistent": 0}
    assert finished.exit_code == 1


async def test_an_entry_update_cannot_reconcile_is_persistent(tmp_path: Path) -> None:
    body = (LIFECYCLE_HEAD + setup_op("pull beta", "extension", "pull", "@stress/beta")
            + python_op("plant a ghost entry", PLANT_A_GHOST_ENTRY))
    path = write_scenario(tmp_path, "persistent", body + PARTIAL_TRANSIENT, top="iterations = 1")
    finished, events, _ = await run_scenario(path, tmp_path)

    [brk] = iteration(events, 1).breaks
    assert (brk.invariant, brk.classification) == ("catalog_matches_lockfile", "persistent")
    assert brk.message == ("the lockfile lists @stress/ghost@1.0.0 but the catalog has no "
                           "Indexed row for @stress/ghost (no rows at all)")
    final = iteration(events, 2)  # the reconcile cannot repair it either: no tolerance there
    assert [(b.invariant, b.classification) for b in final.breaks] == [
        ("catalog_matches_lockfile", "persistent")]
    assert finished.exit_code == 1


def test_transient_must_concern_the_broken_extension() -> None:
    [transient] = load_scenario(None).transients
    outputs = [Transcript(1, "pull", ("Install partially applied for @stress/beta — files "
                                      "extracted but the catalog write failed",))]
    beta = Break("catalog_matches_lockfile", "m", "@stress/beta")
    alpha = Break("catalog_matches_lockfile", "m", "@stress/alpha")
    lock = Break("no_lock_exhaustion", "m", "@stress/beta")
    assert explaining_transient(beta, outputs, [transient]) is not None
    assert explaining_transient(alpha, outputs, [transient]) is None
    assert explaining_transient(lock, outputs, [transient]) is None  # not one it tolerates


async def test_heal_runs_once_and_only_for_unexplained_breaks() -> None:
    calls = []

    async def heal() -> list[Break]:
        calls.append(1)
        return [Break("b", "still", "y")]

    breaks = distinct([Break("a", "x", "x"), Break("b", "y", "y"), Break("a", "x", "x")])
    assert len(breaks) == 2
    classified = await classify(breaks, [], [], heal)
    assert [b.classification for b in classified] == ["healed", "persistent"]
    assert calls == [1]
    assert await classify(breaks, [], [], None) == [
        Break("a", "x", "x", "persistent"), Break("b", "y", "y", "persistent")]
    calls.clear()
    assert await classify([], [], [], heal) == [] and calls == []
