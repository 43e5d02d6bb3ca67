"""Reading the three stores of the system under test, without disturbing it.

The explorer reads while children write. Its reads must never make a child
fail and never change a file: the catalog is read from a private copy (see
`read_catalog`), so the explorer takes no SQLite lock and never writes,
checkpoints or deletes the WAL.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import io
import os
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from explorer.events import CatalogRow, Phase, StateSnapshot

CATALOG_QUERY = (
    "SELECT name, version, kind, type, bundle_path, state FROM catalog "
    "ORDER BY name, version, kind, type, bundle_path, state"
)
COPY_RETRIES = 20


@dataclass(frozen=True)
class Layout:
    """Where the three stores live, relative to the repo dir."""

    lockfile: str = "extensions/models/upstream_extensions.json"
    catalog: str = ".swamp/_extension_catalog.db"
    tree: str = ".swamp/pulled-extensions"


def catalog_files(layout: Layout) -> frozenset[str]:
    """The catalog and its journals, relative to the repo dir: a change to one of them is
    a catalog write."""
    return frozenset(layout.catalog + suffix for suffix in ("", "-wal", "-journal"))


@dataclass(frozen=True)
class Snapshot:
    """What the three stores said at one moment: the input of every invariant."""

    lockfile: str | None  # raw text; None when the file does not exist
    catalog: tuple[CatalogRow, ...] = ()
    files: tuple[str, ...] = ()  # under the tree, relative to it, sorted

    def to_event(self, *, t: float, iteration: int, phase: Phase) -> StateSnapshot:
        return StateSnapshot(
            t=t, iteration=iteration, phase=phase, lockfile=self.lockfile,
            catalog=list(self.catalog), files=list(self.files),
        )


def store_stamp(root: Path, layout: Layout) -> tuple[object, ...]:
    """(mtime, size) of the lockfile and the catalog's files, and the tree's file names: a
    cheap "did they change?" (the tree too, so an extraction is seen at the step that made
    it, not later by the watcher)."""
    stamps: list[object] = [tuple(sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root / layout.tree) for f in fs))]
    for name in (layout.lockfile, *sorted(catalog_files(layout))):
        try:
            st = os.stat(root / name)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_mtime_ns, st.st_size))
    return tuple(stamps)


class CatalogBusy(Exception):
    """The catalog kept changing under every attempt to copy it."""


def read_lockfile(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _copy_consistent(db: Path, dest: Path) -> bool:
    """Copy the database and its WAL; False if either changed while copying."""
    wal = db.with_name(db.name + "-wal")
    before = (_stamp(db), _stamp(wal))
    try:
        shutil.copyfile(db, dest)
        if before[1] is not None:
            shutil.copyfile(wal, dest.with_name(dest.name + "-wal"))
        else:
            dest.with_name(dest.name + "-wal").unlink(missing_ok=True)
    except FileNotFoundError:
        return False
    return (_stamp(db), _stamp(wal)) == before


def read_catalog(db: Path) -> tuple[CatalogRow, ...]:
    """Every catalog row, or () when there is no catalog yet; raises CatalogBusy.

    The rows are read from a private copy of the database and its WAL. Even a
    `mode=ro` connection opens the WAL for writing and touches it (a file
    change the watcher would report, and a lock a child could trip over); a
    copy takes no lock at all. A copy made while a writer appended is
    detected (size or mtime moved) and retried; SQLite's WAL checksums make a
    torn last frame invisible, so a consistent copy is a committed state.
    """
    if not db.exists():
        return ()
    copy = _scratch() / "catalog.db"
    for stale in (copy, copy.with_name("catalog.db-wal"), copy.with_name("catalog.db-shm")):
        stale.unlink(missing_ok=True)
    for attempt in range(COPY_RETRIES):
        if _copy_consistent(db, copy):
            break
        if not db.exists():
            return ()
        time.sleep(0.002 * (attempt + 1))  # a writer is mid-commit: let it finish
    else:
        raise CatalogBusy(str(db))
    # Read-only even on the copy: no checkpoint and no fsync when it closes.
    conn = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True)
    try:
        rows = conn.execute(CATALOG_QUERY).fetchall()
    except sqlite3.DatabaseError:
        return ()  # no table yet, or a file that is not (yet) a database
    finally:
        conn.close()
    return tuple(CatalogRow(*(str(v) for v in row)) for row in rows)


_local = threading.local()
_scratch_dirs: list[str] = []


def _scratch() -> Path:
    """This thread's private dir for catalog copies (reads may run in several threads)."""
    path: str | None = getattr(_local, "scratch", None)
    if path is None or not os.path.isdir(path):
        path = _local.scratch = tempfile.mkdtemp(prefix="race-explorer-catalog-")
        _scratch_dirs.append(path)
    return Path(path)


@atexit.register
def _remove_scratch_dirs() -> None:
    for path in _scratch_dirs:
        shutil.rmtree(path, ignore_errors=True)


def list_tree(tree: Path) -> tuple[str, ...]:
    """Files (not directories) under the tree, relative to it, sorted."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        for name in files:
            found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return tuple(sorted(found))


def read_snapshot(
    repo: Path, layout: Layout, previous: Snapshot | None = None, *, catalog_changed: bool = True
) -> Snapshot:
    """The stores now. With `previous`, a catalog known unchanged (the watcher saw no write
    to it) or one that never holds still keeps the previous rows."""
    if previous is not None and not catalog_changed:
        return Snapshot(lockfile=read_lockfile(repo / layout.lockfile),
                        catalog=previous.catalog, files=list_tree(repo / layout.tree))
    try:
        catalog = read_catalog(repo / layout.catalog)
    except CatalogBusy:
        catalog = previous.catalog if previous else ()
    return Snapshot(
        lockfile=read_lockfile(repo / layout.lockfile),
        catalog=catalog,
        files=list_tree(repo / layout.tree),
    )


def archive_dir(root: Path) -> str:
    """The whole dir as base64 tar.gz (SQLite's -shm left out: it is rebuilt on open)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(root.rglob("*")):
            if path.name.endswith("-shm"):
                continue
            with contextlib.suppress(FileNotFoundError):
                tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def restore_archive(archive: str, dest: Path) -> None:
    """Recreate a dir from `archive_dir()` output (dest is created; it should be empty)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(archive)), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
