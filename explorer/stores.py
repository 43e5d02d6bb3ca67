"""The target's stores, as its scenario declares them, and reading them without disturbing it.

A scenario names its stores (`[stores.NAME]`): JSON files, text files, SQLite
databases and trees, each a path relative to the repo dir that may hold globs.
The explorer reads while children write. Its reads must never make a child fail
and never change a file: a database is read from a private copy (see
`read_database`), so the explorer takes no SQLite lock and never writes,
checkpoints or deletes the WAL.
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import glob
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import quote

from explorer.confine import inside
from explorer.events import Cell, StoreItem, StoreState, StoreTable

StoreKind = Literal["json", "text", "sqlite", "tree"]
STORE_KINDS: tuple[StoreKind, ...] = get_args(StoreKind)
JOURNALS = ("-wal", "-journal")  # a change to one of these is a write to its database
COPY_RETRIES = 20
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class StoreSpec:
    """One declared store; `path` is relative to the repo dir, placeholders filled in."""

    name: str
    kind: StoreKind
    path: str
    query: str | None = None  # sqlite: the rows recorded; None: every table, whole

    @property
    def is_glob(self) -> bool:
        return any(c in GLOB_CHARS for c in self.path)

    def covers(self, path: str) -> bool:
        """Whether a changed path (relative to the repo dir) may change what this store says."""
        if self.kind == "tree":
            if self.path in (".", ""):
                return True
            parts = path.split("/")
            return any(fnmatch.fnmatchcase("/".join(parts[:n]), self.path)
                       for n in range(1, len(parts) + 1))
        if self.kind == "sqlite":
            path = next((path[: -len(j)] for j in JOURNALS if path.endswith(j)), path)
        return fnmatch.fnmatchcase(path, self.path)

    def matches(self, repo: Path) -> list[str]:
        """The paths this store names now, relative to the repo dir, sorted."""
        if not self.is_glob:
            return [self.path] if os.path.lexists(repo / self.path) else []
        found = glob.glob(self.path, root_dir=repo, recursive=True)
        return sorted(p.replace(os.sep, "/") for p in found)


def store_path(template_value: str, repo: Path) -> str | None:
    """A store's path with placeholders filled in, relative to the repo dir; None when it
    leads outside it (`{repo}/x` is `x`)."""
    value = template_value
    prefix = str(repo).rstrip("/") + "/"
    if value == str(repo):
        return "."
    if value.startswith(prefix):
        value = value[len(prefix):]
    return value if inside(value) else None


class DatabaseBusy(Exception):
    """The database kept changing under every attempt to copy it."""


@dataclass(frozen=True)
class Reading:
    """What a store said, and for a database the image its queries run on."""

    state: StoreState
    images: dict[str, bytes]  # item path -> a serialized SQLite database (sqlite stores)


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def list_tree(tree: Path) -> list[str]:
    """Files and links (not directories) under the tree, relative to it, sorted; links to
    directories are listed, never followed."""
    found: list[str] = []
    for dirpath, dirs, files in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        links = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
        for name in [*files, *links]:
            found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(found)


def read_store(repo: Path, spec: StoreSpec) -> Reading:
    """Everything a store's path names now; raises DatabaseBusy for a database that never
    held still."""
    items: list[StoreItem] = []
    images: dict[str, bytes] = {}
    for rel in spec.matches(repo):
        path = repo / rel
        if spec.kind == "tree":
            if path.is_dir():
                items.append(StoreItem(rel, files=list_tree(path)))
        elif spec.kind == "sqlite":
            image = copy_database(path)
            if image is not None:
                images[rel] = image
                items.append(StoreItem(rel, tables=query_tables(image, spec.query)))
        else:
            text = read_text(path)
            if text is not None:
                items.append(StoreItem(rel, text=text))
    return Reading(StoreState(spec.name, spec.kind, items), images)


def stamp(repo: Path, specs: tuple[StoreSpec, ...]) -> tuple[object, ...]:
    """A cheap "did any store change?": (mtime, size) of each file a store names (and a
    database's journals), and the listing of each tree."""
    out: list[object] = []
    for spec in specs:
        for rel in spec.matches(repo):
            if spec.kind == "tree":
                out.append(tuple(list_tree(repo / rel)))
                continue
            for suffix in ("", *JOURNALS) if spec.kind == "sqlite" else ("",):
                try:
                    st = os.stat(repo / (rel + suffix))
                except OSError:
                    out.append(None)
                else:
                    out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


# -- SQLite, read through a private copy ------------------------------------------------------


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _copy_consistent(db: Path, dest: Path) -> bool:
    """Copy the database and its WAL; False if either changed while copying."""
    wal = db.with_name(db.name + "-wal")
    before = (_file_stamp(db), _file_stamp(wal))
    try:
        shutil.copyfile(db, dest)
        if before[1] is not None:
            shutil.copyfile(wal, dest.with_name(dest.name + "-wal"))
        else:
            dest.with_name(dest.name + "-wal").unlink(missing_ok=True)
    except FileNotFoundError:
        return False
    return (_file_stamp(db), _file_stamp(wal)) == before


def copy_database(db: Path) -> bytes | None:
    """The committed state of a database as one serialized image, or None when there is
    none; raises DatabaseBusy.

    Even a `mode=ro` connection opens the WAL for writing and touches it (a file change
    the watcher would report, and a lock a child could trip over); a copy takes no lock
    at all. A copy made while a writer appended is detected (size or mtime moved) and
    retried; SQLite's WAL checksums make a torn last frame invisible, so a consistent
    copy is a committed state. The image (WAL folded in) is what queries run on later.
    """
    if not db.is_file():
        return None
    copy = _scratch() / "store.db"
    for stale in (copy, copy.with_name("store.db-wal"), copy.with_name("store.db-shm")):
        stale.unlink(missing_ok=True)
    for attempt in range(COPY_RETRIES):
        if _copy_consistent(db, copy):
            break
        if not db.exists():
            return None
        time.sleep(0.002 * (attempt + 1))  # a writer is mid-commit: let it finish
    else:
        raise DatabaseBusy(str(db))
    # Read-only even on the copy: no checkpoint and no fsync when it closes.
    conn = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True)
    try:
        return conn.serialize()
    except sqlite3.DatabaseError:
        return b""  # a file that is not (yet) a database
    finally:
        conn.close()


def open_image(image: bytes) -> sqlite3.Connection:
    """A private in-memory connection on a database image: queries cannot touch the target."""
    conn = sqlite3.connect(":memory:")
    if image:
        if image[18:20] == b"\x02\x02":
            # A WAL database's header; an in-memory one has no WAL: read it as a rollback one.
            image = image[:18] + b"\x01\x01" + image[20:]
        conn.deserialize(image)
    return conn


def _cell(value: object) -> Cell:
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, str | int | float) or value is None else str(value)


def run_query(image: bytes, sql: str, params: tuple[object, ...] = ()) -> StoreTable:
    conn = open_image(image)
    try:
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description or ()]
        return StoreTable("query", columns, [[_cell(v) for v in row] for row in cursor])
    finally:
        conn.close()


def query_tables(image: bytes, query: str | None) -> list[StoreTable]:
    """The rows a store records: its query's, or every table's (sorted, so a trace
    compares equal when nothing changed); none while the file is not a database."""
    try:
        if query is not None:
            table = run_query(image, query)
            return [StoreTable("query", table.columns, table.rows)]
        listing = run_query(image, "SELECT name FROM sqlite_master WHERE type = 'table' "
                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")
        names = [row[0] for row in listing.rows]
        out = []
        for name in names:
            quoted = '"' + str(name).replace('"', '""') + '"'
            table = run_query(image, f"SELECT * FROM {quoted} ORDER BY 1")
            out.append(StoreTable(str(name), table.columns, table.rows))
        return out
    except sqlite3.DatabaseError:
        return []  # no such table yet, or not (yet) a database


_local = threading.local()
_scratch_dirs: list[str] = []


def _scratch() -> Path:
    """This thread's private dir for database copies (reads may run in several threads)."""
    path: str | None = getattr(_local, "scratch", None)
    if path is None or not os.path.isdir(path):
        path = _local.scratch = tempfile.mkdtemp(prefix="race-explorer-store-")
        _scratch_dirs.append(path)
    return Path(path)


@atexit.register
def _remove_scratch_dirs() -> None:
    for path in _scratch_dirs:
        with contextlib.suppress(OSError):
            shutil.rmtree(path)
