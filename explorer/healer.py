"""Does the reconcile repair it? Run it in the real repo dir, check, and put the dir back.

A target may bake absolute paths into its state (shebangs, config files, links),
so the reconcile runs in the repo dir at its real path, never in a copy: the
block's end state is archived (the archive the next block starts from), the
reconcile runs, the invariants are checked on what it left, and the archive is
restored over the repo dir, so the next iteration inherits the damage as it was.
What the `[archive]` policy leaves out is not put back: the reconcile's changes
there stay. The watcher's reports of all this reach no block.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from explorer.archive import restore_archive
from explorer.children import ProcessGroups, run_child
from explorer.events import Break
from explorer.expansion import Expansion
from explorer.invariants import Transcript, due
from explorer.judge import TIMED_OUT
from explorer.snapshot import read_snapshot
from explorer.stores import StoreSpec


class Healer:
    def __init__(
        self,
        repo: Path,
        expansion: Expansion,
        stores: tuple[StoreSpec, ...],
        groups: ProcessGroups,
        end_archive: Callable[[], Awaitable[str]],
        settle: Callable[[], Awaitable[None]],
    ) -> None:
        self.repo = repo
        self.expansion = expansion
        self.stores = stores
        self.groups = groups
        self.end_archive = end_archive  # the block's end state, archived before anything ran
        self.settle = settle  # the watcher's reports delivered, before the next block

    async def __call__(self) -> list[Break] | None:
        """Breaks left after the reconcile runs in the repo dir; None: no reconcile."""
        scenario = self.expansion.scenario
        reconcile = scenario.reconcile
        if reconcile is None:
            return None
        archive = await self.end_archive()
        try:
            spec = self.expansion.spec(0, reconcile)
            result = await run_child(spec.argv, env=self.expansion.env, cwd=str(self.repo),
                                     timeout=reconcile.timeout or scenario.timeout,
                                     groups=self.groups)
            snapshot = await asyncio.to_thread(read_snapshot, self.repo, self.stores)
            outputs = [Transcript(0, reconcile.label, tuple(text for _, text in result.lines),
                                  result.returncode)]
            left = [b for inv in due(scenario.invariants, "final")
                    for b in inv.run(snapshot, outputs)]
            if result.killed == "timeout":
                left.append(Break(TIMED_OUT, "the reconcile in the repo dir timed out"))
            return left
        finally:
            await asyncio.to_thread(restore_archive, archive, self.repo, scenario.archive,
                                    replace=True)
            await self.settle()
