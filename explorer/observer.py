"""Watching a block while its children run: file changes, looks at the stores, live checks.

The repo watcher reports settled batches of changes; a batch that touches one
of the three stores makes the observer read them and check every invariant on
what they say. Under a scheduler the stores are also looked at whenever every
child is parked (they hold still then), so a torn write a child is parked in
the middle of is seen every time, not only when the watcher happens to read in
time. Only what changed is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from explorer.block import Block
from explorer.events import Event, FileChanged, InvariantChecked
from explorer.scenario import Scenario
from explorer.snapshot import catalog_files, read_snapshot, store_stamp
from explorer.watch import Batch, RepoWatcher


class Observer:
    def __init__(
        self,
        scenario: Scenario,
        repo: Path,
        emit: Callable[[Event], None],
        now: Callable[[], float],
    ) -> None:
        self.scenario = scenario
        self.repo = repo
        self.emit = emit
        self.now = now
        self._catalog_files = catalog_files(scenario.layout)
        self._block: Block | None = None
        self._watcher: RepoWatcher | None = None

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Watch the repo dir until `stack` closes."""
        self._watcher = watcher = RepoWatcher(self.repo, self.scenario.watch, self._on_batch)
        await watcher.start()
        stack.push_async_callback(watcher.stop)

    def follow(self, block: Block) -> None:
        """Changes from now on belong to this block."""
        self._block = block

    async def let_go(self) -> None:
        """The block's children are gone: its last changes are reported, later ones not."""
        if self._watcher is not None:
            await self._watcher.flush()
        self._block = None

    def _in_stores(self, path: str) -> bool:
        layout = self.scenario.layout
        return (path == layout.lockfile or path in self._catalog_files
                or path == layout.tree or path.startswith(layout.tree.rstrip("/") + "/")
                or layout.tree in (".", ""))

    async def _on_batch(self, batch: Batch) -> None:
        block = self._block
        if block is None:
            return
        self.emit(FileChanged(t=self.now(), iteration=block.iteration, changes=batch))
        touched = {path for _, path in batch}
        if not any(self._in_stores(path) for path in touched):
            return  # lock files, temp files, staging: the three stores read the same as before
        await self._look(block, catalog_changed=not touched.isdisjoint(self._catalog_files))

    async def settled(self, block: Block) -> None:
        """Every child is parked at a checkpoint: look at the stores if they changed."""
        stamp = store_stamp(self.repo, self.scenario.layout)
        if stamp != block.stamp:
            block.stamp = stamp
            await self._look(block, catalog_changed=True)

    async def _look(self, block: Block, *, catalog_changed: bool) -> None:
        snapshot = await asyncio.to_thread(
            read_snapshot, self.repo, self.scenario.layout, block.last,
            catalog_changed=catalog_changed,
        )
        if self._block is not block:
            return  # the block ended meanwhile; its quiescent snapshot supersedes this one
        if snapshot != block.last:
            block.last = snapshot
            self.emit(snapshot.to_event(t=self.now(), iteration=block.iteration, phase="live"))
        outputs = block.transcripts()
        for inv in self.scenario.invariants:
            breaks = inv.run(snapshot, outputs)
            if inv.when == "always":
                block.live_breaks.extend(breaks)
            if block.live_results.get(inv.name) != breaks:
                # Only changes are news: the app shows the rest as still in flux.
                block.live_results[inv.name] = breaks
                self.emit(InvariantChecked(t=self.now(), iteration=block.iteration,
                                           invariant=inv.name, when=inv.when, phase="live",
                                           breaks=breaks))
