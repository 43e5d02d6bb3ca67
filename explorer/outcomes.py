"""Judging what the children reported: their exits, their errors, lines that prove a break.

The store invariants look at what the stores say once the children are gone;
these look at what the children said on the way. `children_succeed` holds
when every child exited 0 without an error line, unless the scenario lists
that failure as expected for its op; an evidence pattern is an output line
that proves something went wrong even when the stores were repaired before
the block ended (`Removing orphan file ...`).

A block's transcripts come as a `History`: the lines, and for each child its
stderr, when it ran, whether the explorer killed it, and the stores at the
block's start (what serial.py replays the ops from). A check given plain
transcripts (the heal's reconcile on a copy) does what it can without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

from explorer.events import BlockKind, Break
from explorer.invariants import Check, Finding, Invariant, Transcript
from explorer.snapshot import Snapshot

CHILDREN_SUCCEED = "children_succeed"
EVIDENCE_INVARIANT = "no_evidence_of_breaks"  # the invariant evidence joins unless it names another


@dataclass(frozen=True)
class Span:
    """One child's run as the explorer saw it."""

    argv: tuple[str, ...]
    started: float | None = None  # runner seconds; None: not started yet
    ended: float | None = None  # None: still running
    killed: str | None = None  # the explorer's reason: fault, timeout or interrupt
    stderr: tuple[str, ...] = ()


@dataclass(frozen=True)
class History(Sequence[Transcript]):
    """A block's transcripts (as a sequence) and what the outcome checks need besides."""

    transcripts: tuple[Transcript, ...]
    spans: Mapping[int, Span] = field(default_factory=dict)  # by child
    start: Snapshot | None = None  # the stores when the block began
    kind: BlockKind = "iteration"

    @overload
    def __getitem__(self, index: int) -> Transcript: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Transcript]: ...
    def __getitem__(self, index: int | slice) -> Transcript | Sequence[Transcript]:
        return self.transcripts[index]

    def __len__(self) -> int:
        return len(self.transcripts)

    def __iter__(self) -> Iterator[Transcript]:
        return iter(self.transcripts)

    def span(self, child: int) -> Span | None:
        return self.spans.get(child)


@dataclass(frozen=True)
class ExpectedFailure:
    """A failure a scenario documents: ops it may end with `exit` codes and a line
    matching `pattern`."""

    pattern: re.Pattern[str]
    exits: frozenset[int] | None = None  # None: any non-zero exit
    ops: frozenset[str] | None = None  # op labels; None: every op

    def covers(self, label: str, returncode: int | None, lines: Sequence[str]) -> bool:
        if self.ops is not None and label not in self.ops:
            return False
        if self.exits is None and returncode == 0:
            return False
        if self.exits is not None and returncode not in self.exits:
            return False
        return any(self.pattern.search(line) for line in lines)


@dataclass(frozen=True)
class Evidence:
    """An output line that proves a break: `invariant` is the one its breaks count for;
    a group `entity` (or `extension`) names what it concerns."""

    pattern: re.Pattern[str]
    invariant: str = EVIDENCE_INVARIANT
    means: str = ""  # what the line says happened, for the message

    def entity(self, match: re.Match[str]) -> str | None:
        groups = match.groupdict()
        return groups.get("entity") or groups.get("extension")


def _how(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by signal {-returncode} (not by the explorer)"
    return f"exited {returncode}"


def children_succeed(
    snapshot: Snapshot, outputs: Sequence[Transcript], *,
    expected: Sequence[ExpectedFailure] = (),
) -> list[Break]:
    """Every child exited 0 without an error line, but for the failures the scenario
    expects of its ops (`[[expected_failures]]`)."""
    history = outputs if isinstance(outputs, History) else None
    if history is not None and history.kind == "setup":
        return []  # the runner's setup_succeeded judges the setup already
    breaks = []
    for out in outputs:
        span = history.span(out.child) if history else None
        if out.returncode is None or (span is not None and span.killed):
            continue  # running, or the explorer's own kill (a fault, a timeout)
        if out.returncode != 0:
            if not any(e.covers(out.label, out.returncode, out.lines) for e in expected):
                last = out.lines[-1].strip() if out.lines else "no output"
                breaks.append(Break(CHILDREN_SUCCEED, f"{out.who} "
                                    f"{_how(out.returncode)}, a failure the scenario "
                                    f"does not expect of it: {last}"))
            continue
        for line in span.stderr if span else ():
            if not any(e.covers(out.label, 0, [line]) for e in expected):
                breaks.append(Break(CHILDREN_SUCCEED, f"{out.who} exited 0 but reported "
                                    f"an error the scenario does not expect: {line.strip()}"))
                break
    return breaks


def evidence_check(evidence: Sequence[Evidence]) -> Check:
    """A check that finds the evidence lines in the children's output (not in a
    reconcile's: repairing what earlier blocks left is its job, and they were judged)."""

    def found_evidence(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
        if not isinstance(outputs, History) or outputs.kind == "reconcile":
            return []
        breaks = []
        for out in outputs:
            for line in out.lines:
                for item in evidence:
                    match = item.pattern.search(line)
                    if match is not None:
                        means = f" ({item.means})" if item.means else ""
                        breaks.append(Break(item.invariant, f"{out.who} reported{means}: "
                                            f"{line.strip()}", extension=item.entity(match)))
        return breaks

    return found_evidence


def with_evidence(
    invariants: Sequence[Invariant], evidence: Sequence[Evidence]
) -> tuple[Invariant, ...]:
    """Each invariant joined by the evidence naming it; evidence naming none of them is an
    invariant of its own (checked once the children are gone)."""
    out = list(invariants)
    for name in dict.fromkeys(item.invariant for item in evidence):
        found = evidence_check([item for item in evidence if item.invariant == name])
        at = next((i for i, inv in enumerate(out) if inv.name == name), None)
        if at is None:
            out.append(Invariant(name, "quiescent", found))
        else:
            out[at] = Invariant(name, out[at].when, _both(out[at].check, found))
    return tuple(out)


def _both(first: Check, second: Check) -> Check:
    def both(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Finding]:
        return [*first(snapshot, outputs), *second(snapshot, outputs)]

    return both


def nothing(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """The check of an invariant only evidence patterns fill."""
    return []
