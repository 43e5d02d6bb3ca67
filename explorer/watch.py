"""Watching the repo dir: batches of file changes, as soon as they settle.

watchfiles' defaults wait 1.6 s for a batch to settle, longer than a whole
iteration; a 20 ms debounce and a 10 ms step see each phase of a child
separately. One watcher lives for the whole run (setting up inotify per
iteration would cost more than the iteration's own file work).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from watchfiles import Change, awatch

from explorer.events import ChangeKind

DEBOUNCE_MS = 20
STEP_MS = 10
IGNORED_SUFFIXES = ("-shm",)  # SQLite's shared-memory index: mapped, not written as a file

_KINDS: dict[Change, ChangeKind] = {
    Change.added: "added",
    Change.modified: "modified",
    Change.deleted: "deleted",
}

Batch = list[tuple[ChangeKind, str]]


class RepoWatcher:
    """Calls `on_batch` with each settled batch of changes under the watched paths."""

    def __init__(
        self,
        repo: Path,
        paths: Sequence[str],
        on_batch: Callable[[Batch], Awaitable[None]],
    ) -> None:
        self.repo = repo.resolve()
        self.prefixes = tuple("" if p in (".", "") else p.strip("/") for p in paths)
        self.on_batch = on_batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _relative(self, path: str) -> str | None:
        try:
            rel = Path(path).resolve().relative_to(self.repo).as_posix()
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
        async for changes in awatch(
            self.repo, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=self._stop,
            recursive=True, watch_filter=None,
        ):
            batch: Batch = []
            for change, path in sorted(changes, key=lambda c: (c[1], c[0])):
                rel = self._relative(path)
                if rel is not None:
                    batch.append((_KINDS[change], rel))
            if batch:
                await self.on_batch(batch)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 2.0)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            self._task = None
