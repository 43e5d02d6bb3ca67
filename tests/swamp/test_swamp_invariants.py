"""The seed's invariants as scenarios/swamp.toml declares them on swamp's stores and in
swamp's words, on what the real CLI wrote and printed (recorded from runs against it)."""

from __future__ import annotations

import json
from pathlib import Path

from explorer.events import StoreItem, StoreState, StoreTable
from explorer.invariants import Invariant, Transcript
from explorer.outcomes import History
from explorer.scenario import load_scenario
from explorer.snapshot import Snapshot

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "swamp.toml"
TREE = ".swamp/pulled-extensions"
LOCKFILE = "extensions/models/upstream_extensions.json"
COLUMNS = ["name", "version", "kind", "type", "bundle_path", "state"]


def invariant(name: str) -> Invariant:
    return next(i for i in load_scenario(SCENARIO).invariants if i.name == name)


def lockfile(**entries: list[str]) -> str:
    """The real lockfile's shape: repo-relative `files`, sorted."""
    return json.dumps({
        f"@stress/{name}": {"version": "2026.05.05.1", "pulledAt": "2026-12-01T14:59:32.571Z",
                            "files": [f"{TREE}/@stress/{name}/{f}" for f in sorted(files)],
                            "checksum": "3d81", "filesChecksum": "8e8a",
                            "serverUrl": "http://127.0.0.1:1"}
        for name, files in entries.items()
    }, indent=2)


def snapshot(lock: str | None = None, files: tuple[str, ...] = (),
             rows: list[list[str | int | float | None]] | None = None) -> Snapshot:
    return Snapshot([
        StoreState("lockfile", "json", [StoreItem(LOCKFILE, text=lock)] if lock else []),
        StoreState("catalog", "sqlite", [StoreItem(".swamp/_extension_catalog.db", tables=[
            StoreTable("query", COLUMNS, rows or [])])]),
        StoreState("tree", "tree", [StoreItem(TREE, files=list(files))]),
    ])


def test_a_tree_that_matches_the_repo_relative_lockfile_holds() -> None:
    snap = snapshot(lockfile(alpha=["manifest.yaml", "models/noop.ts"]),
                    ("@stress/alpha/manifest.yaml", "@stress/alpha/models/noop.ts"))
    assert invariant("tree_matches_lockfile").run(snap, []) == []


def test_a_file_no_entry_lists_and_a_listed_file_missing_both_break() -> None:
    snap = snapshot(lockfile(alpha=["manifest.yaml", "models/noop.ts"]),
                    ("@stress/alpha/manifest.yaml", "@stress/beta/models/noop.ts"))
    breaks = invariant("tree_matches_lockfile").run(snap, [])
    messages = sorted(b.message for b in breaks)
    assert len(messages) == 2
    assert messages[0].startswith("@stress/alpha: lockfile entry @stress/alpha@2026.05.05.1 "
                                  "lists 1 file(s) missing from disk (@stress/alpha/models/")
    assert messages[1].startswith("@stress/beta: 1 file(s) on disk that no entry lists")
    assert sorted(b.extension or "" for b in breaks) == ["@stress/alpha", "@stress/beta"]


def said(*lines: str) -> History:
    """What one child printed, as a block's history (evidence is read from a block's)."""
    return History((Transcript(child=2, label="pull @stress/beta@2026.05.05.1", lines=lines),))


def test_swamps_user_facing_type_collision_is_a_duplicate_type_break() -> None:
    line = ('Error: Type "@stress/alpha-model" (kind=model) is already claimed by '
            "@stress/alpha@2026.05.05.1 at /r/.swamp/pulled-extensions/@stress/alpha/models/"
            "noop.ts. Cannot install @stress/gamma@1 at ... — filesystem changes rolled back.")
    breaks = invariant("no_duplicate_type_error").run(snapshot(), said("fine", line))
    assert [b.message for b in breaks] == [f"child 2 (pull @stress/beta@2026.05.05.1) "
                                           f"reported (a type two extensions declare): {line}"]


def test_two_extensions_indexing_one_type_is_a_duplicate_type_break() -> None:
    rows: list[list[str | int | float | None]] = [
        [f"@stress/{n}", "2026.05.05.1", "model", "@stress/alpha-model", f"/b/{n}.js",
         "Indexed"] for n in ("alpha", "beta")]
    breaks = invariant("no_duplicate_type_error").run(snapshot(rows=rows), [])
    assert len(breaks) == 1 and "@stress/alpha, @stress/beta" in breaks[0].message


def test_the_catalog_query_reads_swamps_own_table(tmp_path: Path) -> None:
    """The scenario's query, not a core one, maps bundle_types onto the invariants' columns."""
    import sqlite3

    from explorer.stores import read_store

    db = tmp_path / ".swamp" / "_extension_catalog.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE bundle_types (source_path TEXT PRIMARY KEY, type_normalized, "
                 "kind, bundle_path, version, state, extension_name, extension_version)")
    conn.execute("INSERT INTO bundle_types VALUES ('p', '@stress/alpha-model', 'model', "
                 "'b.js', '', 'Indexed', '@stress/alpha', '2026.05.05.2')")
    conn.execute("INSERT INTO bundle_types VALUES ('q', 'local', 'model', 'l.js', '', "
                 "'Indexed', '', '')")  # the repo's own model: no extension
    conn.commit()
    conn.close()
    [spec] = [s for s in load_scenario(SCENARIO).stores if s.name == "catalog"]
    [item] = read_store(tmp_path, spec).state.items
    assert item.tables[0].columns == COLUMNS
    assert item.tables[0].rows == [["@stress/alpha", "2026.05.05.2", "model",
                                    "@stress/alpha-model", "b.js", "Indexed"]]


def test_an_orphan_row_names_the_extension_from_its_source_path() -> None:
    line = ("2026-12-01T15:00:00.000Z [WRN] extension·repository: Dropping orphan row at "
            "/r/.swamp/pulled-extensions/@stress/alpha/models/noop.ts: source path matches "
            "no known extension layout.")
    lock = "Error: Could not acquire lock on upstream_extensions.json. Another operation..."
    [orphan] = invariant("no_orphans_swept").run(snapshot(), said(line, "ok", lock))
    assert orphan.extension == "@stress/alpha"
    assert "dropped an orphan catalog row" in orphan.message
    [lock_break] = invariant("no_lock_exhaustion").run(snapshot(), said(line, "ok", lock))
    assert lock_break.extension is None and "ran out of lock retries" in lock_break.message
    # outside the tree, the row's extension is unknown, still a break
    [other] = invariant("no_orphans_swept").run(snapshot(), said("Dropping orphan row at /x"))
    assert other.extension is None


def test_clean_output_breaks_nothing() -> None:
    out = said('[INF] extension·pull: Pulled "@stress/beta"@"2026.05.05.1"')
    for name in ("no_lock_exhaustion", "no_orphans_swept", "no_duplicate_type_error"):
        assert invariant(name).run(snapshot(), out) == [], name
