"""Does the reconcile repair it? Run it on a copy of the repo dir and check again.

Never on the live repo: the next iteration must inherit the damage as it is.
The copy lives outside the watched dir, so its changes are nobody's news.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from explorer.children import ProcessGroups, run_child
from explorer.events import Break
from explorer.expansion import Expansion
from explorer.invariants import Transcript, due
from explorer.judge import TIMED_OUT
from explorer.snapshot import read_snapshot


class Healer:
    def __init__(self, repo: Path, expansion: Expansion, groups: ProcessGroups) -> None:
        self.repo = repo
        self.expansion = expansion
        self.groups = groups

    async def __call__(self) -> list[Break] | None:
        """Breaks left after the reconcile runs on a copy of the repo; None: no reconcile."""
        scenario = self.expansion.scenario
        reconcile = scenario.reconcile
        if reconcile is None:
            return None
        scratch = Path(tempfile.mkdtemp(prefix="race-explorer-heal-"))
        copy = scratch / "repo"
        try:
            await asyncio.to_thread(shutil.copytree, self.repo, copy, symlinks=True,
                                    ignore=shutil.ignore_patterns("*-shm"))
            there = self.expansion.at(copy)
            spec = there.spec(0, reconcile)
            result = await run_child(spec.argv, env=there.env, cwd=str(copy),
                                     timeout=reconcile.timeout or scenario.timeout,
                                     groups=self.groups)
            snapshot = await asyncio.to_thread(read_snapshot, copy, scenario.layout)
            outputs = [Transcript(0, reconcile.label, tuple(text for _, text in result.lines),
                                  result.returncode)]
            left = [b for inv in due(scenario.invariants, "final")
                    for b in inv.run(snapshot, outputs)]
            if result.killed == "timeout":
                left.append(Break(TIMED_OUT, "the reconcile on a copy timed out"))
            return left
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)
