"""The stores at the edges of blocks: the end of one block is the start of the next.

Nothing runs between two blocks, so the state a block leaves is the next one's
starting state, read (and archived, for a rerun to restore) while the watcher
catches up with the block's last changes — unless the run was paused in
between, long enough for someone to touch the repo: then it is read again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from explorer.archive import ArchivePolicy, archive_dir
from explorer.snapshot import Snapshot, read_snapshot
from explorer.stores import StoreSpec

REUSE_WINDOW = 1.0  # seconds a block's end state is trusted as the next block's start


class BlockEdges:
    def __init__(
        self, repo: Path, stores: tuple[StoreSpec, ...], policy: ArchivePolicy,
        now: Callable[[], float],
    ) -> None:
        self.repo = repo
        self.stores = stores
        self.policy = policy
        self.now = now
        self._quiescent: Snapshot | None = None  # the stores as the last block left them
        self._next_archive: asyncio.Future[str] | None = None  # ditto, as a tar.gz
        self._closed_at = float("-inf")

    def archive(self) -> asyncio.Future[str]:
        return asyncio.ensure_future(asyncio.to_thread(archive_dir, self.repo, self.policy))

    async def start_state(self, start: float) -> tuple[str, Snapshot]:
        """The archive and snapshot of the repo dir as a block starting at `start` finds it."""
        fresh = start - self._closed_at < REUSE_WINDOW
        pending, self._next_archive = self._next_archive, None
        if pending is not None and not fresh:
            with contextlib.suppress(Exception):
                await pending
            pending = None
        archive = await (pending or self.archive())
        snapshot = self._quiescent if fresh else None
        if snapshot is None:
            snapshot = await asyncio.to_thread(read_snapshot, self.repo, self.stores)
        return archive, snapshot.detached()

    def ending(self, last: Snapshot | None) -> asyncio.Future[Snapshot]:
        """A block's children are gone: start reading (and archiving) its end state."""
        self._next_archive = self.archive()
        return asyncio.ensure_future(
            asyncio.to_thread(read_snapshot, self.repo, self.stores, last))

    async def end_archive(self) -> str:
        """The archive of the last block's end state (the healer puts it back)."""
        assert self._next_archive is not None
        return await asyncio.shield(self._next_archive)

    def ended(self, snapshot: Snapshot) -> None:
        """The block is judged; `snapshot` is where the next one starts."""
        self._quiescent = snapshot
        self._closed_at = self.now()

    def forget(self) -> None:
        """The repo dir was put back to another state: nothing read before holds."""
        self._quiescent = None
        self._next_archive = None
        self._closed_at = float("-inf")

    async def abandon(self) -> None:
        """Wait out an archive made for a block that will never start."""
        if self._next_archive is not None:
            with contextlib.suppress(Exception):
                await self._next_archive
