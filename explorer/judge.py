"""Judging a block once its children are gone: check, classify, count, give the verdict.

The invariants due at the block's phase run on its end state; breaks seen only
while the children ran, and children that overran their timeout, join them.
Each is classified (see classify.py) — after the final reconcile, strictly —
and the block's `IterationFinished` carries them with its verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from explorer.block import Block
from explorer.classify import HealCheck, classify, distinct, strict
from explorer.events import (
    CLASSIFICATIONS,
    Break,
    Event,
    InvariantChecked,
    IterationFinished,
    Phase,
    Verdict,
)
from explorer.invariants import due
from explorer.scenario import Scenario
from explorer.snapshot import Snapshot

# The runner's own checks, named like invariants in the breaks they report.
SETUP_FAILED = "setup_succeeded"
TIMED_OUT = "children_finish_in_time"


class Judge:
    def __init__(
        self,
        scenario: Scenario,
        emit: Callable[[Event], None],
        now: Callable[[], float],
        heal: HealCheck | None = None,
    ) -> None:
        self.scenario = scenario
        self.emit = emit
        self.now = now
        self.heal = heal  # None: no second chance, every unexplained break persists
        self.counts: dict[str, int] = dict.fromkeys(CLASSIFICATIONS, 0)
        self.failed = False  # some block failed: the run exits 1
        self._carried: set[str] = set()  # extensions left with tolerated breaks, unrepaired

    def start_afresh(self) -> None:
        """The repo dir was put back to an earlier state: nothing tolerated is carried."""
        self._carried = set()

    async def judge(
        self, block: Block, phase: Phase, snapshot: Snapshot, extra: Sequence[Break] = ()
    ) -> IterationFinished:
        """Report the checks and the verdict of a block whose end state is `snapshot`."""
        outputs = block.transcripts()
        checked = due(self.scenario.invariants, phase)
        found = [b for inv in checked for b in inv.run(snapshot, outputs)]
        live = [
            Break(b.invariant, f"while the children ran: {b.message}", b.extension)
            for b in distinct(block.live_breaks)
            if b not in found
        ]
        timeouts = [Break(TIMED_OUT, message) for message in block.timed_out]
        unclassified = distinct([*found, *live, *timeouts])
        if phase == "final":
            breaks = strict(unclassified)
        else:
            known = {row.name for row in snapshot.catalog} | {
                b.extension for b in unclassified if b.extension}
            breaks = await classify(
                unclassified, outputs, self.scenario.transients, heal=self.heal,
                killed=block.fault_killed, known=known, carried=self._carried, seen_live=live,
            )
            self._carried = {
                b.extension for b in breaks if b.classification == "tolerated" and b.extension
            }
        breaks = [*extra, *breaks]
        for inv in checked:
            self.emit(InvariantChecked(
                t=self.now(), iteration=block.iteration, invariant=inv.name, when=inv.when,
                phase=phase, breaks=[b for b in breaks if b.invariant == inv.name],
            ))
        for brk in breaks:
            if brk.classification is not None:
                self.counts[brk.classification] += 1
        failing = any(b.is_failure for b in breaks)
        self.failed = self.failed or failing
        verdict: Verdict = "failed" if failing else ("tolerated" if breaks else "clean")
        finished = IterationFinished(t=self.now(), iteration=block.iteration,
                                     duration=self.now() - block.started,
                                     verdict=verdict, breaks=breaks)
        self.emit(finished)
        return finished
