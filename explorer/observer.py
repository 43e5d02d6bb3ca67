"""Watching a block while its children run: file changes, looks at the stores, live checks.

The repo watcher reports settled batches of changes; a batch that touches one
of the scenario's stores makes the observer read the stores it touched and check
every invariant on what they say. Under a scheduler the stores are also looked at whenever every
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
from explorer.snapshot import read_snapshot
from explorer.stores import StoreSpec, stamp
from explorer.watch import Batch, RepoWatcher


class Observer:
    def __init__(
        self,
        scenario: Scenario,
        repo: Path,
        stores: tuple[StoreSpec, ...],
        emit: Callable[[Event], None],
        now: Callable[[], float],
    ) -> None:
        self.scenario = scenario
        self.repo = repo
        self.stores = stores
        self.emit = emit
        self.now = now
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

    async def _on_batch(self, batch: Batch) -> None:
        block = self._block
        if block is None:
            return
        self.emit(FileChanged(t=self.now(), iteration=block.iteration, changes=batch))
        touched = {path for _, path in batch}
        changed = {s.name for s in self.stores if any(s.covers(path) for path in touched)}
        if not changed:
            return  # lock files, temp files, staging: the stores read the same as before
        await self._look(block, changed)

    async def flush(self) -> None:
        """Deliver the changes the watcher holds (to nobody, between blocks)."""
        if self._watcher is not None:
            await self._watcher.flush()

    async def settled(self, block: Block) -> None:
        """Every child is parked at a checkpoint: look at the stores if they changed."""
        now = await asyncio.to_thread(stamp, self.repo, self.stores)
        if now != block.stamp:
            block.stamp = now
            await self._look(block, None)

    async def _look(self, block: Block, changed: set[str] | None) -> None:
        snapshot = await asyncio.to_thread(
            read_snapshot, self.repo, self.stores, block.last, changed=changed)
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
