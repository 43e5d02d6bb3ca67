"""Why an iteration broke: the causal steps, read from its recorded events.

A pure function of one block's events (no I/O), for every face: `replay --why`,
the headless failure report, the HTML report and the app. Under a controlled
scheduler one child runs between two checkpoints at a time and the stores are
looked at before each decision, so a change between two looks is that child's:
the steps are exact. Under the os strategy every running child may have made
it, and a step names them all.

`timeline` cuts the block into steps (one a scheduling decision) with the store
changes each made; `explain` keeps, for each entity a failing break concerns
(an extension like `@stress/alpha`), the steps that touched it, and the last
consistent look at the stores and the first broken one, diffed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from explorer.events import (
    Break,
    CheckpointReached,
    ChildExited,
    ChildOutput,
    ChildSpec,
    Event,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    ScheduleDecision,
    StateSnapshot,
)
from explorer.store_views import StoreChange, changes, diff, view

# How the judge words a break seen only while the children ran: at the end it is a record of
# what was seen, not what the stores still say.
SEEN_LIVE = "while the children ran: "


@dataclass
class Step:
    """One stretch of the block: a child run from a checkpoint to the next (or to its end)."""

    number: int  # the scheduling decision's step; 0 before the first one
    t: float
    children: tuple[int, ...]  # who ran: one under a controlled scheduler
    action: str = "run"  # run, kill, blocked, or "free" (no scheduler decided)
    start: dict[int, str] = field(default_factory=dict)  # child -> checkpoint it ran from
    end: dict[int, str] = field(default_factory=dict)  # child -> checkpoint reached, or exit
    changes: list[StoreChange] = field(default_factory=list)
    output: list[tuple[int, str]] = field(default_factory=list)
    appeared: list[Break] = field(default_factory=list)  # breaks first seen after it
    resolved: list[Break] = field(default_factory=list)  # breaks gone after it
    broken: frozenset[Break] = frozenset()  # every break standing after it

    def moves(self, labels: dict[int, str]) -> str:
        parts = []
        for child in self.children:
            where = f"{self.start.get(child, 'start')} → {self.end.get(child, '…')}"
            if self.action == "kill":
                where = f"KILLED at {self.start.get(child, '?')}"
            elif self.action == "blocked":
                where = f"blocked after {self.start.get(child, '?')}"
            parts.append(f"child {child} ({labels.get(child, '?')}) {where}")
        return "; ".join(parts) or "no child"


@dataclass(frozen=True)
class Look:
    """What the stores said about one entity after a step."""

    after_step: int
    t: float
    view: dict[str, str]  # store -> what it says
    breaks: tuple[Break, ...] = ()


@dataclass
class Why:
    entity: str | None
    breaks: list[Break]  # the failing breaks it concerns
    steps: list[Step]  # the steps that touched it, changes limited to it
    children: list[ChildSpec]  # the children those steps ran: the ones involved
    last_consistent: Look | None
    first_broken: Look | None
    breaking_step: int | None  # the step after which it was broken (and stayed so)

    def diff(self) -> list[StoreChange]:
        if self.first_broken is None:
            return []
        before = self.last_consistent.view if self.last_consistent else {}
        return diff(self.entity, before, self.first_broken.view)


# -- the block cut into steps ----------------------------------------------------------------


def timeline(events: Iterable[Event]) -> tuple[list[Step], list[ChildSpec]]:
    """The block's steps in order, each with what it changed in the stores (every entity,
    and the stores as a whole under entity None), and its children."""
    children: list[ChildSpec] = []
    steps: list[Step] = []
    at: dict[int, str] = {}  # child -> the checkpoint it is parked at
    alive: set[int] = set()
    blocked: set[int] = set()  # declared blocked: running outside any checkpoint
    last: StateSnapshot | None = None
    current: dict[str, list[Break]] = {}  # invariant -> its breaks now
    decided = False

    def step() -> Step:
        if not steps:
            steps.append(Step(0, 0.0, tuple(sorted(alive)), "free"))
        return steps[-1]

    for event in events:
        if isinstance(event, IterationStarted):
            children = list(event.children)
            alive = {c.child for c in children}
            steps.append(Step(0, event.t, tuple(sorted(alive)), "free"))
        elif isinstance(event, ScheduleDecision):
            decided = True
            at.update(dict(event.parked))
            if event.action == "blocked":
                blocked.add(event.chosen)
            runs = (event.chosen,) if event.action == "kill" else tuple(
                sorted({event.chosen} | blocked))
            steps.append(Step(event.step, event.t, runs, event.action,
                              start={c: at.get(c, "start") for c in runs},
                              broken=step().broken))
        elif isinstance(event, CheckpointReached):
            blocked.discard(event.child)
            at[event.child] = event.name
            s = step()
            if event.child in s.children and event.child not in s.end:
                s.end[event.child] = event.name
        elif isinstance(event, ChildExited):
            alive.discard(event.child)
            blocked.discard(event.child)
            # Its exit can arrive after the next decision: it ends the step it last ran in.
            _ran(steps, event.child, step()).end.setdefault(event.child, event.outcome)
        elif isinstance(event, ChildOutput):
            _ran(steps, event.child, step()).output.append((event.child, event.line))
        elif isinstance(event, StateSnapshot):
            if event.phase == "start":
                last = event
                continue
            if not decided and event.phase == "live" and steps and steps[-1].changes:
                # No scheduler: each look at the stores starts a new stretch.
                steps.append(Step(steps[-1].number, event.t, tuple(sorted(alive)), "free",
                                  broken=steps[-1].broken))
            step().changes += changes(last, event)
            last = event
        elif isinstance(event, InvariantChecked):
            s = step()
            standing = [b for b in event.breaks if not b.message.startswith(SEEN_LIVE)]
            old = current.get(event.invariant, [])
            # The same break once classified is not news: compare what it says.
            said, saying = {_said(b) for b in old}, {_said(b) for b in standing}
            s.appeared += [b for b in standing if _said(b) not in said]
            s.resolved += [b for b in old if _said(b) not in saying]
            current[event.invariant] = standing
            s.broken = frozenset(b for bs in current.values() for b in bs)
    return steps, children


def _said(brk: Break) -> tuple[str, str]:
    return brk.invariant, brk.message


def _ran(steps: list[Step], child: int, default: Step) -> Step:
    """The last step the child ran in (its pipe may deliver a line a step late)."""
    return next((s for s in reversed(steps) if child in s.children), default)


# -- the causal steps of one break -------------------------------------------------------------


def entity_of(brk: Break) -> str | None:
    """What the break concerns: its extension; None for the stores as a whole."""
    return str(brk.extension) if brk.extension else None


def _concerns(brk: Break, entity: str | None, invariants: set[str]) -> bool:
    """About this entity; about the stores as a whole, only the invariants explained."""
    return entity_of(brk) == entity if entity is not None else brk.invariant in invariants


def _touches(s: Step, entity: str | None) -> bool:
    return any(c.entity == entity for c in s.changes) or any(
        entity is not None and entity in line for _, line in s.output)


def _finished_breaks(events: Iterable[Event]) -> list[Break]:
    finished = next((e for e in events if isinstance(e, IterationFinished)), None)
    return finished.breaks if finished is not None else []


def breaks_to_explain(events: Iterable[Event]) -> list[Break]:
    """The block's breaks a person asks about: its failing ones, else all it had."""
    breaks = _finished_breaks(events)
    return [b for b in breaks if b.is_failure] or breaks


def explain(events: Iterable[Event], breaks: Sequence[Break] | None = None) -> list[Why]:
    """One `Why` per entity the block's failing breaks concern (or the given `breaks`)."""
    events = list(events)
    steps, children = timeline(events)
    if breaks is None:
        breaks = [b for b in _finished_breaks(events) if b.is_failure]
    by_entity: dict[str | None, list[Break]] = {}
    for brk in breaks:
        by_entity.setdefault(entity_of(brk), []).append(brk)
    snapshots = [e for e in events if isinstance(e, StateSnapshot)]
    return [_why(entity, found, steps, children, snapshots)
            for entity, found in by_entity.items()]


def _why(entity: str | None, breaks: list[Break], steps: list[Step],
         children: list[ChildSpec], snapshots: list[StateSnapshot]) -> Why:
    invariants = {b.invariant for b in breaks}
    causal = []
    for s in steps:
        if not _touches(s, entity):
            continue
        mine = Step(s.number, s.t, s.children, s.action, s.start, s.end,
                    [c for c in s.changes if c.entity == entity],
                    [(c, line) for c, line in s.output if entity and entity in line],
                    [b for b in s.appeared if _concerns(b, entity, invariants)],
                    [b for b in s.resolved if _concerns(b, entity, invariants)], s.broken)
        causal.append(mine)
    involved = {c for s in causal if s.action != "free" or len(s.children) == 1
                for c in s.children}
    if not involved:  # no scheduler: every child that ran while it changed
        involved = {c for s in causal for c in s.children}
    # The stretch of broken looks that reaches the end (or the first one, if none does).
    status = [any(_concerns(b, entity, invariants) for b in s.broken) for s in steps]
    breaking = None
    for i in range(len(steps)):
        if status[i] and (i == 0 or not status[i - 1]):
            breaking = i
            if status[-1]:
                continue  # keep the last rise: the one it never recovered from
            break
    looks = _looks(steps, snapshots, entity)
    first = looks.get(breaking) if breaking is not None else None
    before = looks.get(breaking - 1) if breaking else None
    if first is not None and breaking is not None:
        shown = tuple(b for b in steps[breaking].appeared if _concerns(b, entity, invariants))
        first = Look(first.after_step, first.t, first.view, shown)
    return Why(entity, breaks, causal, [c for c in children if c.child in involved],
               before, first, steps[breaking].number if breaking is not None else None)


def _looks(steps: list[Step], snapshots: list[StateSnapshot],
           entity: str | None) -> dict[int, Look]:
    """What the stores said about the entity after each step (by index)."""
    out: dict[int, Look] = {}
    pos = 0
    latest: StateSnapshot | None = None
    for i, s in enumerate(steps):
        end = steps[i + 1].t if i + 1 < len(steps) else float("inf")
        while pos < len(snapshots) and snapshots[pos].t < end:
            latest = snapshots[pos]
            pos += 1
        if latest is not None:
            out[i] = Look(s.number, latest.t, view(latest, entity))
    return out


# -- in words ------------------------------------------------------------------------------


def describe(why: Why, *, marks: bool = True) -> list[str]:
    """The causal steps as lines of plain text, for the faces that print."""
    labels = {c.child: c.label for c in why.children}
    about = why.entity or "the stores"
    lines = []
    for brk in why.breaks:
        lines.append(f"{brk.invariant} [{brk.classification or 'unclassified'}] {brk.message}")
    who = ", ".join(f"child {c.child} ({c.label})" for c in why.children) or "none recorded"
    lines.append(f"children that touched {about}: {who}")
    for s in why.steps:
        mark = "▶ " if marks and s.number == why.breaking_step else "  "
        head = f"{mark}step {s.number:>3}  " if s.action != "free" else f"{mark}start     "
        for c in s.children:
            labels.setdefault(c, "?")
        what = [c.describe(named=why.entity is None) for c in s.changes]
        what += [f"child {c} printed: {line}" for c, line in s.output]
        lines.append(head + s.moves(labels) + (": " + "; ".join(what) if what else ""))
        for brk in s.appeared:
            lines.append(f"             now broken: {brk.invariant}: {brk.message}")
    if why.first_broken is not None:
        if why.last_consistent is None:
            lines.append(f"{about} was never consistent in this iteration's looks")
        else:
            lines.append(f"last consistent, after step {why.last_consistent.after_step}: "
                         + _say(why.last_consistent.view))
        lines.append(f"first broken, after step {why.first_broken.after_step}: "
                     + _say(why.first_broken.view))
        for change in why.diff():
            lines.append(f"  changed: {change.describe(named=False)}")
    return lines


def _say(view: dict[str, str]) -> str:
    return "; ".join(f"{store} {view[store]}" for store in view)
