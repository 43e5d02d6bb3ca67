"""Classifying breaks: tolerated, healed or persistent.

A break is `tolerated` when a documented transient in some child's output
explains it for that extension; otherwise the reconcile is run on a copy of
the state (never on the live repo, whose damage the next iteration must
inherit) and the break is `healed` if its invariant then holds for that
extension, `persistent` if it does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace

from explorer.events import Break
from explorer.invariants import Transcript
from explorer.scenario import Transient

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


async def classify(
    breaks: Sequence[Break],
    outputs: Sequence[Transcript],
    transients: Sequence[Transient],
    heal: HealCheck | None,
) -> list[Break]:
    """Every break with its classification; `heal` runs at most once, only if needed."""
    out: list[Break | None] = []
    unexplained: list[int] = []
    for i, brk in enumerate(breaks):
        if explaining_transient(brk, outputs, transients) is not None:
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
