"""Watching the repo dir: batches of file changes, as soon as they settle.

watchfiles' defaults wait 1.6 s for a batch to settle, longer than a whole
iteration; a 20 ms debounce and a 5 ms step see each phase of a child
separately (a shorter debounce makes more batches, each one a snapshot).
One watcher lives for the whole run (setting up inotify per iteration would
cost more than the iteration's own file work).

Changes arrive a step or two after they happen, later than the next block
would start; `flush()` writes a marker beside the repo dir and waits for it to
come through, so every change made before the call has been delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from watchfiles import Change, awatch

from explorer.events import ChangeKind

DEBOUNCE_MS = 20
STEP_MS = 5
FLUSH_TIMEOUT = 2.0
MARKER = ".race-explorer-flush"
IGNORED_SUFFIXES = ("-shm",)  # SQLite's shared-memory index: mapped, not written as a file

_KINDS: dict[Change, ChangeKind] = {
    Change.added: "added",
    Change.modified: "modified",
    Change.deleted: "deleted",
}

Batch = list[tuple[ChangeKind, str]]


def _contents(directory: str) -> list[str]:
    """Everything under a new directory: inotify cannot watch it before it exists, so
    whatever was created in it before its watch was added would go unreported."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        found.extend(os.path.join(root, name) for name in dirs + files)
    return found


class RepoWatcher:
    """Calls `on_batch` with each settled batch of changes under the watched paths.

    It watches the repo dir's parent, which must hold nothing busy but the repo
    dir: the flush marker lives there, outside the system under test.
    """

    def __init__(
        self,
        repo: Path,
        paths: Sequence[str],
        on_batch: Callable[[Batch], Awaitable[None]],
    ) -> None:
        self.repo = repo.resolve()
        self.marker = self.repo.parent / MARKER
        self._flushed = asyncio.Event()
        self._flushes = 0
        self.prefixes = tuple("" if p in (".", "") else p.strip("/") for p in paths)
        self.on_batch = on_batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _relative(self, path: str) -> str | None:
        try:
            rel = Path(path).relative_to(self.repo).as_posix()
        except ValueError:
            return None
        if rel.endswith(IGNORED_SUFFIXES):
            return None
        for prefix in self.prefixes:
            if not prefix or rel == prefix or rel.startswith(prefix + "/"):
                return rel
        return None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="repo-watcher")
        # awatch sets up its inotify watches synchronously on its first step, before
        # its first real await: one turn of the loop and the watcher is live.
        await asyncio.sleep(0)

    async def _loop(self) -> None:
        marker = str(self.marker)
        async for changes in awatch(
            self.repo.parent, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=self._stop,
            recursive=True, watch_filter=None,
        ):
            flushed = marker in {path for _, path in changes}
            seen = {(_KINDS[change], path) for change, path in changes if path != marker}
            for kind, path in list(seen):
                if kind == "added" and os.path.isdir(path):
                    seen.update(("added", inner) for inner in _contents(path))
            batch: Batch = []
            for kind, path in sorted(seen, key=lambda c: (c[1], c[0])):
                rel = self._relative(path)
                if rel is not None:
                    batch.append((kind, rel))
            if batch:
                await self.on_batch(batch)
            if flushed:
                self._flushed.set()

    async def flush(self) -> None:
        """Return once every change made before the call has gone through `on_batch`."""
        if self._task is None or self._task.done():
            return
        self._flushed.clear()
        self._flushes += 1
        self.marker.write_text(str(self._flushes))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed.wait(), FLUSH_TIMEOUT)

    async def stop(self) -> None:
        self._stop.set()
        self.marker.unlink(missing_ok=True)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 2.0)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            self._task = None
