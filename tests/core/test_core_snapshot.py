"""Reading the stores: correct rows, and never a lock or a write a child could trip over."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from explorer.archive import ArchivePolicy, archive_dir, restore_archive
from explorer.snapshot import read_snapshot
from explorer.stores import StoreSpec, copy_database, list_tree, query_tables

SCHEMA = ("CREATE TABLE catalog(name TEXT, version TEXT, kind TEXT, type TEXT, "
          "bundle_path TEXT, state TEXT)")
ROW = ("@stress/beta", "1.0.0", "model", "@stress/beta-model", "@stress/beta/m.json", "Indexed")


QUERY = "SELECT * FROM catalog ORDER BY name"
STORES = (
    StoreSpec("lockfile", "json", "extensions/models/upstream_extensions.json"),
    StoreSpec("catalog", "sqlite", ".swamp/_extension_catalog.db", QUERY),
    StoreSpec("tree", "tree", ".swamp/pulled-extensions"),
)


def read_catalog(db: Path) -> list[tuple[object, ...]]:
    image = copy_database(db)
    if image is None:
        return []
    return [tuple(row) for table in query_tables(image, QUERY) for row in table.rows]


def make_catalog(db: Path) -> sqlite3.Connection:
    """A WAL catalog with one committed row; the connection stays open, as a child's would."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db, isolation_level=None, timeout=0)  # a child that never waits
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(SCHEMA)
    con.execute("INSERT INTO catalog VALUES (?, ?, ?, ?, ?, ?)", ROW)
    return con


def dir_state(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


def test_reads_committed_rows_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    db = tmp_path / ".swamp" / "_extension_catalog.db"
    writer = make_catalog(db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO catalog VALUES ('@stress/alpha', '1', 'model', 't', 'p', "
                   "'Indexed')")
    before = dir_state(db.parent)
    assert read_catalog(db) == [ROW]  # the uncommitted row is not seen
    assert dir_state(db.parent) == before  # nothing created, written or checkpointed
    writer.execute("COMMIT")  # and the writer, which never waits, was not in the way
    assert len(read_catalog(db)) == 2
    writer.close()


def test_a_writer_that_never_waits_is_never_locked_out_by_reads(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    writer = make_catalog(db)
    stop = threading.Event()
    seen: list[int] = []

    def keep_reading() -> None:
        while not stop.is_set():
            seen.append(len(read_catalog(db)))

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        for i in range(100):  # raises OperationalError("database is locked") if blocked
            writer.execute("INSERT INTO catalog VALUES (?, '1', 'model', 't', 'p', 'Indexed')",
                           (f"x{i}",))
    finally:
        stop.set()
        reader.join(timeout=30)
    assert seen and seen == sorted(seen)  # each read is a committed state, never going back
    assert len(read_catalog(db)) == 101
    writer.close()


def test_missing_or_empty_stores(tmp_path: Path) -> None:
    assert read_catalog(tmp_path / "none.db") == []
    (tmp_path / "empty.db").write_bytes(b"")
    assert read_catalog(tmp_path / "empty.db") == []
    snap = read_snapshot(tmp_path, STORES)
    assert (snap.text("lockfile"), snap.rows("catalog"), snap.files("tree")) == (None, [], [])
    assert not snap.exists("lockfile") and not snap.exists("tree")


def test_tree_lists_files_only_sorted(tmp_path: Path) -> None:
    for rel in ["@s/b/z.json", "@s/a/m/x.json", "@s/a/m/a.json"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "@s/empty").mkdir()
    assert list_tree(tmp_path) == ["@s/a/m/a.json", "@s/a/m/x.json", "@s/b/z.json"]


def test_a_restore_in_place_drops_a_stale_wal_index_and_keeps_what_is_excluded(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".swamp").mkdir(parents=True)
    (repo / ".swamp/catalog.db").write_text("as archived")
    (repo / "cache").mkdir()
    (repo / "cache/kept").write_text("before")
    policy = ArchivePolicy(exclude=("cache",))
    archive = archive_dir(repo, policy)
    (repo / ".swamp/catalog.db").write_text("changed since")
    (repo / ".swamp/catalog.db-shm").write_text("a stale index")
    (repo / "cache/kept").write_text("after")
    restore_archive(archive, repo, policy, replace=True)
    assert sorted(os.listdir(repo / ".swamp")) == ["catalog.db"]
    assert (repo / ".swamp/catalog.db").read_text() == "as archived"
    assert (repo / "cache/kept").read_text() == "after"  # excluded: left as it was


def test_archive_round_trip_keeps_the_catalog_and_drops_shm(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    writer = make_catalog(repo / ".swamp" / "_extension_catalog.db")
    (repo / "extensions/models").mkdir(parents=True)
    (repo / "extensions/models/upstream_extensions.json").write_text('{"a": 1}')
    archive = archive_dir(repo)
    writer.close()
    restored = tmp_path / "restored"
    restore_archive(archive, restored)
    assert not any(name.endswith("-shm") for name in os.listdir(restored / ".swamp"))
    snap = read_snapshot(restored, STORES)
    assert snap.text("lockfile") == '{"a": 1}'
    assert snap.rows("catalog") == [dict(zip(["name", "version", "kind", "type", "bundle_path",
                                               "state"], ROW, strict=True))]
