"""Classifying breaks: tolerated, healed or persistent.

A break is `tolerated` when something documented explains it for the entity
it concerns: a transient in some child's output, or a kill fault (crash-recovery
semantics: a child SIGKILLed by the explorer may leave its entity half done, for
the reconcile to repair). Otherwise the reconcile is run in the repo dir, which
is then put back as it was (see healer.py), and the break is `healed` if its
invariant then holds for that entity, `persistent` if it does not. (A break
already there when the block started is not classified again: judge.py.)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from explorer.events import Break
from explorer.invariants import Transcript


@dataclass(frozen=True)
class Transient:
    """An output line that documents a tolerated, temporary inconsistency."""

    pattern: re.Pattern[str]  # group `extension` (optional) names what it concerns
    invariants: frozenset[str] | None  # None: every invariant

    def tolerates(self, invariant: str) -> bool:
        return self.invariants is None or invariant in self.invariants


# The breaks left after a reconcile on a copy; None when there is no reconcile to run.
HealCheck = Callable[[], Awaitable[list[Break] | None]]


def distinct(breaks: Iterable[Break]) -> list[Break]:
    """One break per (invariant, extension, message), first seen first."""
    seen: dict[tuple[str, str | None, str], Break] = {}
    for brk in breaks:
        seen.setdefault((brk.invariant, brk.extension, brk.message), brk)
    return list(seen.values())


def explaining_transient(
    brk: Break, outputs: Sequence[Transcript], transients: Sequence[Transient]
) -> str | None:
    """The output line that documents this break as a transient, if any."""
    for transient in transients:
        if not transient.tolerates(brk.invariant):
            continue
        for out in outputs:
            for line in out.lines:
                match = transient.pattern.search(line)
                if match is None:
                    continue
                concerns = match.groupdict().get("extension")
                if concerns is None or concerns == brk.extension:
                    return line
    return None


def names(argv: Sequence[str], extension: str) -> bool:
    """Whether a command line names the extension (alone or as NAME@VERSION)."""
    return any(arg == extension or arg.startswith(extension + "@") for arg in argv)


def explained_by_kill(
    brk: Break, killed: Sequence[Sequence[str]], known: Collection[str]
) -> bool:
    """A fault-killed child explains breaks of the extensions it names; one that names
    none of the known extensions (an op over all of them) explains every break."""
    for argv in killed:
        if brk.extension is not None and names(argv, brk.extension):
            return True
        if not any(names(argv, name) for name in known):
            return True
    return False


async def classify(
    breaks: Sequence[Break],
    outputs: Sequence[Transcript],
    transients: Sequence[Transient],
    heal: HealCheck | None,
    *,
    killed: Sequence[Sequence[str]] = (),
    known: Collection[str] = (),
    seen_live: Collection[Break] = (),
) -> list[Break]:
    """Every break with its classification; `heal` runs at most once, only if needed.

    `killed`: the argv of each child killed by a fault in this block; `known`: the
    entities the stores name; `seen_live`: breaks seen only while children ran,
    which a kill cannot explain (it explains what the stores were left with, not what a
    reader saw mid-write).
    """
    out: list[Break | None] = []
    unexplained: list[int] = []
    for i, brk in enumerate(breaks):
        if (
            explaining_transient(brk, outputs, transients) is not None
            or (brk not in seen_live and explained_by_kill(brk, killed, known))
        ):
            out.append(replace(brk, classification="tolerated"))
        else:
            out.append(None)
            unexplained.append(i)
    if unexplained:
        remaining = await heal() if heal is not None else None
        left = None if remaining is None else {(b.invariant, b.extension) for b in remaining}
        for i in unexplained:
            brk = breaks[i]
            healed = left is not None and (brk.invariant, brk.extension) not in left
            out[i] = replace(brk, classification="healed" if healed else "persistent")
    return [b for b in out if b is not None]


def strict(breaks: Sequence[Break]) -> list[Break]:
    """No tolerance, no second chance: after the final reconcile every break persists."""
    return [replace(b, classification="persistent") for b in breaks]
