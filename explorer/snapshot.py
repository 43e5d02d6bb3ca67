"""Reading the three stores of the system under test, without disturbing it.

The explorer reads while children write. Its reads must never make a child
fail: the catalog is opened read-only (`mode=ro`, so SQLite never writes,
checkpoints or deletes the WAL on our behalf) with a short busy timeout, and a
busy read is retried a few times before giving up on that one snapshot.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import sqlite3
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from explorer.events import CatalogRow, Phase, StateSnapshot

CATALOG_QUERY = (
    "SELECT name, version, kind, type, bundle_path, state FROM catalog "
    "ORDER BY name, version, kind, type, bundle_path, state"
)
BUSY_TIMEOUT_MS = 50
BUSY_RETRIES = 5


@dataclass(frozen=True)
class Layout:
    """Where the three stores live, relative to the repo dir."""

    lockfile: str = "extensions/models/upstream_extensions.json"
    catalog: str = ".swamp/_extension_catalog.db"
    tree: str = ".swamp/pulled-extensions"


@dataclass(frozen=True)
class Snapshot:
    """What the three stores said at one moment: the input of every invariant."""

    lockfile: str | None  # raw text; None when the file does not exist
    catalog: tuple[CatalogRow, ...] = ()
    files: tuple[str, ...] = ()  # under the tree, relative to it, sorted

    @classmethod
    def from_event(cls, event: StateSnapshot) -> Snapshot:
        return cls(event.lockfile, tuple(event.catalog), tuple(event.files))

    def to_event(self, *, t: float, iteration: int, phase: Phase) -> StateSnapshot:
        return StateSnapshot(
            t=t, iteration=iteration, phase=phase, lockfile=self.lockfile,
            catalog=list(self.catalog), files=list(self.files),
        )


class CatalogBusy(Exception):
    """The catalog stayed locked through every retry."""


def read_lockfile(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_catalog(db: Path) -> tuple[CatalogRow, ...]:
    """Every catalog row, or () when there is no catalog yet; raises CatalogBusy."""
    if not db.exists():
        return ()
    uri = f"file:{quote(str(db))}?mode=ro"
    for attempt in range(BUSY_RETRIES):
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.OperationalError:
            return ()  # vanished between exists() and open
        try:
            rows = conn.execute(CATALOG_QUERY).fetchall()
            return tuple(CatalogRow(*(str(v) for v in row)) for row in rows)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "no such table" in text:
                return ()
            if "locked" not in text and "busy" not in text:
                raise
            time.sleep(0.01 * (attempt + 1))  # a writer holds it: back off, never block it
        except sqlite3.DatabaseError:
            return ()  # a file that is not (yet) a database
        finally:
            conn.close()
    raise CatalogBusy(str(db))


def list_tree(tree: Path) -> tuple[str, ...]:
    """Files (not directories) under the tree, relative to it, sorted."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        for name in files:
            found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return tuple(sorted(found))


def read_snapshot(repo: Path, layout: Layout, previous: Snapshot | None = None) -> Snapshot:
    """The stores now; a catalog that stays busy keeps `previous`'s rows."""
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
