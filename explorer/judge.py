"""Judging a block once its children are gone: check, classify, count, give the verdict.

The invariants due at the block's phase run on its end state; breaks seen only
while the children ran, and children that overran their timeout, join them.
Each is classified (see classify.py) — after the final reconcile, strictly —
and the block's `IterationFinished` carries them with its verdict.

A break that was already there when the block started (the same invariant on the
same entity breaks on the start state) is the previous block's incident carried
over: it keeps its class, is marked with the iteration it was first seen at, and
is not counted again; it excuses nothing else, not even another break of its entity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

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
        self._last: dict[tuple[str, str | None, str], Break] = {}  # the last block's breaks

    def opened(self, block: Block, snapshot: Snapshot) -> None:
        """A block starts from `snapshot`: which breaks are already there (no output yet)."""
        checked = due(self.scenario.invariants, "quiescent")
        block.start_keys = {incident(b) for inv in checked for b in inv.run(snapshot, [])}

    def start_afresh(self) -> None:
        """The repo dir was put back to an earlier state: no break is carried over."""
        self._last = {}

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
        before = {key: self._last[key] for key in block.start_keys if key in self._last}
        carried = [b for b in unclassified if incident(b) in before]
        fresh = [b for b in unclassified if incident(b) not in before]
        if phase == "final":
            fresh = strict(fresh)
        else:
            known = snapshot.entity_names() | {b.extension for b in fresh if b.extension}
            fresh = await classify(
                fresh, outputs, self.scenario.transients, heal=self.heal,
                killed=block.fault_killed, known=known, seen_live=live,
            )
        kept = [self._carry(b, before[incident(b)], block.iteration, strictly=phase == "final")
                for b in carried]
        for brk in fresh:
            if brk.classification is not None:
                self.counts[brk.classification] += 1
        breaks = [*extra, *kept, *fresh]
        self._last = {incident(b): b for b in breaks}
        for inv in checked:
            self.emit(InvariantChecked(
                t=self.now(), iteration=block.iteration, invariant=inv.name, when=inv.when,
                phase=phase, breaks=[b for b in breaks if b.invariant == inv.name],
            ))
        for brk in extra:
            if brk.classification is not None:
                self.counts[brk.classification] += 1
        failing = any(b.is_failure and not b.carried for b in breaks)
        self.failed = self.failed or any(b.is_failure for b in breaks)
        verdict: Verdict = "failed" if failing else ("tolerated" if breaks else "clean")
        finished = IterationFinished(t=self.now(), iteration=block.iteration,
                                     duration=self.now() - block.started,
                                     verdict=verdict, breaks=breaks)
        self.emit(finished)
        return finished

    def _carry(self, brk: Break, before: Break, iteration: int, *, strictly: bool) -> Break:
        """The same incident as `before`: its first sighting and its class (persistent after
        the final reconcile), counted once: a change of class moves its count."""
        first = before.first_seen if before.first_seen is not None else iteration - 1
        cls = "persistent" if strictly else before.classification
        if cls != before.classification and cls is not None:
            if before.classification is not None:
                self.counts[before.classification] -= 1
            self.counts[cls] += 1
        return replace(brk, classification=cls, first_seen=first)


def incident(brk: Break) -> tuple[str, str | None, str]:
    """What makes two breaks one incident: the invariant and the entity it concerns (or,
    for a break of no entity, its words)."""
    return (brk.invariant, brk.extension, "" if brk.extension else brk.message)
