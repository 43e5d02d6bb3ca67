"""Defective variants of the reference CLI, for the checker tests only (never shipped).

Each is a realistic defect invisible when the commands run one at a time; all but
`entry-with-the-files` (a race inside one checkpoint-to-checkpoint step, which the store
invariants do see) are invisible to the store invariants too: the stores agree at the
end of every iteration. `python -m variants NAME ARGS...` runs the reference CLI with
the defect switched on, so a scenario selects a variant through its `command`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from lifecycle import catalog, lockfile, ops
from lifecycle.checkpoint import checkpoint
from lifecycle.faults import Faults
from lifecycle.layout import Layout
from lifecycle.lockfile import read_entries


def report_after_unlock() -> None:
    """pull checks the size of what it installed after releasing the extension lock (for
    a log): a concurrent rm deletes the files first, and the pull dies with
    `error: [Errno 2]` and exit 1 although its install went through."""
    pull, install = ops.pull, ops.install
    installed: dict[str, list[str]] = {}

    def remembering_install(layout: Layout, faults: Faults, name: str, *args: Any,
                            **kwargs: Any) -> str:
        said = install(layout, faults, name, *args, **kwargs)
        installed[name] = list(read_entries(layout)[name]["files"])
        return said

    def reporting_pull(layout: Layout, faults: Faults, spec: str, *, force: bool = False) -> str:
        said = pull(layout, faults, spec, force=force)
        name, _ = ops.parse_spec(spec)
        checkpoint("pull-report")
        sum((layout.tree / path).stat().st_size for path in installed[name])
        return said

    ops.install = remembering_install
    ops.pull = reporting_pull


def rm_keeps_workflows() -> None:
    """rm deletes only the files under models/: an extension with workflows leaves them
    behind, for the next update to sweep up as orphans ('Removing orphan file')."""
    delete = ops._delete_extension_files

    def models_only(layout: Layout, name: str, entry: dict[str, Any] | None,
                    force: bool) -> None:
        if entry is not None:
            entry = {**entry, "files": [f for f in entry.get("files", []) if "/models/" in f]}
        delete(layout, name, entry, force)

    ops._delete_extension_files = models_only


def update_trusts_first_read() -> None:
    """update decides from its first, unlocked read of the lockfile instead of re-reading
    under each extension's lock: an extension removed meanwhile is reinstalled, and the
    rm that removed it reported success. The stores agree with each other throughout."""
    snapshot = ops.snapshot
    reads: list[dict[str, Any]] = []  # the first is update's own first read

    def remembered(layout: Layout) -> dict[str, Any]:
        reads.append(snapshot(layout))
        return reads[-1]

    def stale_update_one(layout: Layout, faults: Faults, name: str) -> str:
        latest = ops.check_version(ops.latest_version(ops.check_name(name)))
        with ops.extension_lock(layout, faults, name):
            entry = reads[0].get(name)  # the defect: no re-read under the lock
            if entry is None:
                return f"{name} was removed meanwhile; skipped"
            current = entry.get("version")
            if current != latest:
                ops.install(layout, faults, name, latest, force=True)
                return f"Updated {name} {current} -> {latest}"
            return f"{name} is up to date ({latest})"

    ops.snapshot = remembered
    ops._update_one = stale_update_one


LEASE_SECONDS = 0.5


def lockfile_lock_lease() -> None:
    """The lockfile lock is a lease: a waiter takes over a lock older than LEASE_SECONDS,
    its holder presumed hung, instead of only one whose owner is dead. A holder slower
    than that (paused by GC, swap, a loaded machine) loses the lock without knowing, and
    two writers replace the lockfile: the one that renames last drops the other's entry."""
    take_over = lockfile.LockfileLock.take_over_if_stale

    def lease_expired(self: lockfile.LockfileLock) -> bool:
        import os
        import time

        try:
            age = time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return True
        if age > LEASE_SECONDS:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return True
        return take_over(self)

    lockfile.LockfileLock.take_over_if_stale = lease_expired  # type: ignore[method-assign]


def waiter_recovers_the_holder() -> None:
    """A writer that had to wait for the lockfile lock suspects its holder died mid-install
    and recovers: under the lock it drops the lockfile entries whose version has no Indexed
    catalog rows.
    Right after a release the holder is alive and about to index its rows, so its fresh
    entry is dropped and its rows then name an extension the lockfile does not list. A
    writer that finds the lock free never recovers; one that waits until the holder is
    done finds nothing to drop: only a waiter run right after the release bites."""
    waited = False
    passes, read = lockfile.checkpoint, lockfile.read_entries

    def noting_waits(name: str) -> None:
        nonlocal waited
        waited = waited or name == "lock-retry"
        passes(name)

    def recovering_read(layout: Layout) -> dict[str, Any]:
        nonlocal waited
        entries = read(layout)
        if waited:
            waited = False
            indexed = {(row.name, row.version) for row in catalog.read_rows(layout)
                       if row.state == catalog.INDEXED}
            for name in [name for name, entry in entries.items()
                         if (name, entry.get("version")) not in indexed]:
                del entries[name]
        return entries

    lockfile.checkpoint = noting_waits
    lockfile.read_entries = recovering_read


def entry_with_the_files() -> None:
    """An install records its lockfile entry in the pass that moves its files in, so that
    the two land together: it reads the lockfile, places the files, and replaces the
    lockfile with its entry added. It takes no lockfile lock, the extension's own lock
    being trusted to keep the entry its own: true of the entry, not of the file, which
    holds every extension's entries. Every other lockfile write is likewise a read and a
    replace with no lock. A write made between an install's read and its replace is lost:
    a removed extension comes back, an upgrade is undone.

    Each read and its replace lie between two of the hook's checkpoints (the install's
    between `lockfile-read` and `files-written`, the others in a helper that calls none)."""
    import json
    import os

    from lifecycle.tree import Placement

    place, fetch = Placement.place, ops.fetch
    fetched: list[Any] = []

    def replace_entries(layout: Layout, entries: dict[str, Any]) -> None:
        text = json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        temp = layout.lockfile.with_name(f".upstream_extensions.json.{os.getpid()}.tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, layout.lockfile)

    def remembering_fetch(layout: Layout, name: str, version: str) -> Any:
        fetched.append(fetch(layout, name, version))
        return fetched[-1]

    def place_and_record(self: Placement, source_root: Any, files: dict[str, str],
                         replaces: list[str]) -> None:
        bundle = fetched[-1]
        entries = read_entries(self.layout)
        place(self, source_root, files, replaces=replaces)
        entries[bundle.name] = {"version": bundle.version, "files": sorted(files),
                                "checksum": bundle.checksum,
                                "pulledAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        replace_entries(self.layout, entries)

    def unlocked_update(layout: Layout, faults: Faults, change: Callable[[Any], Any], *,
                        started_from: Any = None) -> Any:
        entries = read_entries(layout)
        result = change(entries)
        replace_entries(layout, entries)
        return result

    ops.fetch = remembering_fetch
    Placement.place = place_and_record  # type: ignore[method-assign]
    ops.update_entries = unlocked_update


DEFECTS: dict[str, Callable[[], None]] = {
    "entry-with-the-files": entry_with_the_files,
    "waiter-recovers-the-holder": waiter_recovers_the_holder,
    "lockfile-lock-lease": lockfile_lock_lease,
    "report-after-unlock": report_after_unlock,
    "rm-keeps-workflows": rm_keeps_workflows,
    "update-trusts-first-read": update_trusts_first_read,
}
