"""What the screen shows, folded from the event stream — no Textual here.

`RunView.apply(event)` is the only way state enters the app: live events from
the runner and recorded events from a trace go through the same fold, so
replay shows exactly what the live screen showed at that event. The widgets
read this model; they never compute a verdict or run a check themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from explorer.events import (
    Break,
    CheckpointReached,
    ChildExited,
    ChildOutput,
    ChildSpec,
    ChildStarted,
    Event,
    FileChanged,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    ScheduleDecision,
    StateSnapshot,
)
from explorer.tui.child_view import CHECKPOINT, ERR, EXIT, NOTE, OUT, ChildView
from explorer.tui.shorten import short_checkpoint
from explorer.tui.state_view import StateView

TIMELINE_CAP = 4000

InvariantStatus = Literal["pending", "ok", "in flux", "tolerated", "healed", "broken"]

# Worst first: when several breaks of one invariant disagree, the row shows the worst.
_SEVERITY: dict[str, int] = {
    "broken": 5,
    "healed": 4,
    "tolerated": 3,
    "in flux": 2,
    "ok": 1,
    "pending": 0,
}


def status_of_breaks(breaks: Iterable[Break]) -> InvariantStatus:
    """The status a set of classified (or not yet classified) breaks earns."""
    worst: InvariantStatus = "ok"
    for brk in breaks:
        status: InvariantStatus
        if brk.classification == "tolerated":
            status = "tolerated"
        elif brk.classification == "healed":
            status = "healed"
        else:
            status = "broken"  # persistent, or not classified yet
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    return worst


@dataclass
class InvariantView:
    name: str
    when: str
    status: InvariantStatus = "pending"
    phase: str | None = None
    breaks: list[Break] = field(default_factory=list)  # of the latest failing check

    @property
    def message(self) -> str:
        return self.breaks[0].message if self.breaks else ""


@dataclass
class TimelineEntry:
    t: float
    lane: int | None  # a child slot, or None for the files/state lane
    kind: Literal["start", "checkpoint", "exit", "file", "break", "decision", "snapshot"]
    text: str
    index: int  # event index inside the block, for jumping from the timeline


@dataclass
class IterationSummary:
    iteration: int
    block: str
    started_t: float
    duration: float | None = None
    verdict: str | None = None  # None while it runs
    breaks: list[Break] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.block == "setup":
            return "setup"
        if self.block == "reconcile":
            return "reconcile"
        return str(self.iteration)


class BlockView:
    """One block (setup, iteration or reconcile) as of the last event applied."""

    def __init__(
        self,
        iteration: int,
        block: str,
        children: list[ChildSpec],
        invariants: list[tuple[str, str]],
        state: StateView | None = None,
        started_t: float = 0.0,
        repo_dir: str = "",
    ) -> None:
        self.iteration = iteration
        self.repo_dir = repo_dir
        self.block = block
        self.started_t = started_t
        self.children: dict[int, ChildView] = {
            spec.child: ChildView(spec.child, spec.label, list(spec.argv)) for spec in children
        }
        self.invariants: dict[str, InvariantView] = {
            name: InvariantView(name, when) for name, when in invariants
        }
        self.state = state if state is not None else StateView()
        self.timeline: list[TimelineEntry] = []
        self.finished: IterationFinished | None = None
        self.decisions = 0
        self.last_decision = ""  # the latest scheduling decision, in words
        self._running_since: dict[int, TimelineEntry] = {}  # a child let run, until it stops
        self.events_applied = 0
        self.break_messages: list[str] = []

    def command_line(self, argv: list[str]) -> str:
        """argv as a pane shows it: the program's base name, the repo dir as $REPO."""
        if not argv:
            return ""
        words = [os.path.basename(argv[0])] + list(argv[1:])
        if self.repo_dir:
            words = [w.replace(self.repo_dir, "$REPO") for w in words]
        return " ".join(words)

    def child(self, slot: int, label: str = "") -> ChildView:
        if slot not in self.children:
            self.children[slot] = ChildView(slot, label or f"child {slot}")
        return self.children[slot]

    def _mark(self, t: float, lane: int | None, kind: str, text: str) -> TimelineEntry | None:
        if len(self.timeline) >= TIMELINE_CAP:
            return None
        entry = TimelineEntry(t, lane, kind, text, self.events_applied - 1)  # type: ignore[arg-type]
        self.timeline.append(entry)
        return entry

    def _decided(self, event: ScheduleDecision) -> None:
        """A decision in words: which child, from which checkpoint (to which: when it stops)."""
        parked = dict(event.parked).get(event.chosen)
        where = short_checkpoint(parked) if parked else "its start"
        if event.action == "run":
            self.last_decision = f"#{event.chosen} ran from {where}"
            text = f"{where} → …"
        else:
            self.last_decision = text = f"#{event.chosen} {event.action} at {where}"
        entry = self._mark(event.t, event.chosen, "decision", text)
        if entry is not None and event.action == "run":
            self._running_since[event.chosen] = entry

    def _stopped(self, child: int, where: str) -> None:
        """The child let run by the last decision stopped at `where`: that decision's end."""
        entry = self._running_since.pop(child, None)
        if entry is not None:
            entry.text = entry.text.removesuffix("…") + where  # a short path has its own …
            if self.last_decision.startswith(f"#{child} ran from"):
                self.last_decision += f" to {where}"

    def apply(self, event: Event) -> set[str]:
        """Fold one event of this block; returns the parts of the screen it changed."""
        self.events_applied += 1
        if isinstance(event, ChildOutput):
            view = self.child(event.child)
            view.add((ERR if event.stream == "stderr" else OUT) + event.line)
            return {"panes"}
        if isinstance(event, ChildStarted):
            view = self.child(event.child, event.label)
            view.label, view.argv, view.pid, view.status = (
                event.label,
                list(event.argv),
                event.pid,
                "running",
            )
            view.add(NOTE + "$ " + self.command_line(event.argv))
            self._mark(event.t, event.child, "start", f"start pid {event.pid}")
            return {"panes"}
        if isinstance(event, CheckpointReached):
            view = self.child(event.child)
            view.last_checkpoint = event.name
            view.add(CHECKPOINT + event.name)
            # The pane keeps the full name; the timeline's lanes and the decisions are narrow.
            short = short_checkpoint(event.name)
            self._stopped(event.child, short)
            self._mark(event.t, event.child, "checkpoint", short)
            return {"panes"}
        if isinstance(event, ChildExited):
            view = self.child(event.child)
            view.returncode = event.returncode
            view.killed = event.killed
            view.status = "killed" if event.killed else "exited"
            text = event.outcome
            view.add(EXIT + text)
            self._stopped(event.child, "its exit")
            self._mark(event.t, event.child, "exit", text)
            return {"panes"}
        if isinstance(event, FileChanged):
            # Not in the children's panes: which child made a change is not known (the
            # state pane's feed and the timeline show it).
            for change, path in event.changes:
                self.state.feed.append((event.t, change, path))
                self._mark(event.t, None, "file", f"{change} {path}")
            self.state.version += 1
            return {"state"}
        if isinstance(event, StateSnapshot):
            self.state.previous = self.state.snapshot
            self.state.snapshot = event
            self.state.version += 1
            self._mark(event.t, None, "snapshot", f"snapshot ({event.phase})")
            return {"state"}
        if isinstance(event, InvariantChecked):
            return self._apply_check(event)
        if isinstance(event, ScheduleDecision):
            self.decisions += 1
            self._decided(event)
            return {"header"}
        if isinstance(event, IterationFinished):
            self.finished = event
            by_invariant: dict[str, list[Break]] = {}
            for brk in event.breaks:
                by_invariant.setdefault(brk.invariant, []).append(brk)
            for name, breaks in by_invariant.items():
                inv = self.invariants.setdefault(name, InvariantView(name, "?"))
                inv.status = status_of_breaks(breaks)
                inv.breaks = breaks
            return {"invariants", "iterations", "header"}
        return set()

    def _apply_check(self, event: InvariantChecked) -> set[str]:
        inv = self.invariants.setdefault(
            event.invariant, InvariantView(event.invariant, event.when)
        )
        inv.phase = event.phase
        if not event.breaks:
            # A live break of an `always` invariant stays on the row: it really happened.
            if inv.status in ("pending", "ok", "in flux"):
                inv.status = "ok"
                inv.breaks = []  # what was in flux settled: no message under an ok
            return {"invariants"}
        if event.phase == "live" and event.when != "always":
            # Quiescent/final invariants may fail while children still run: not a verdict yet.
            if inv.status in ("pending", "ok", "in flux"):
                if inv.status != "in flux":  # where the state first diverged, on the timeline
                    self._mark(event.t, None, "break", f"in flux {event.invariant}: "
                               f"{event.breaks[0].message}")  # fmt: skip
                inv.status = "in flux"
                inv.breaks = list(event.breaks)
            return {"invariants"}
        status = status_of_breaks(event.breaks)
        inv.breaks = list(event.breaks)
        inv.status = status
        self.break_messages.extend(f"{b.invariant}: {b.message}" for b in event.breaks)
        self._mark(event.t, None, "break", f"{status} {event.invariant}: {inv.message}")
        return {"invariants"}


class RunView:
    """The whole screen's data: run header, iteration list and the shown block."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.summaries: dict[int, IterationSummary] = {}
        self.block: BlockView | None = None
        self.last_t = 0.0
        self.changes: set[str] = set()
        self.paused = False  # the user paused: the gap before the next iteration is not work
        self.after_pause: set[int] = set()  # iterations that began after a pause

    @property
    def invariant_specs(self) -> list[tuple[str, str]]:
        if self.started is None:
            return []
        return [(spec.name, spec.when) for spec in self.started.invariants]

    def take_changes(self) -> set[str]:
        changes, self.changes = self.changes, set()
        return changes

    def begin_block(self, event: IterationStarted, state: StateView | None = None) -> BlockView:
        carried = state
        if carried is None and self.block is not None:
            carried = StateView(snapshot=self.block.state.snapshot)
            carried.feed.extend(self.block.state.feed)
        self.block = BlockView(
            event.iteration,
            event.block,
            event.children,
            self.invariant_specs,
            carried,
            event.t,
            self.started.repo_dir if self.started else "",
        )
        self.block.events_applied = 1
        return self.block

    def apply(self, event: Event) -> None:
        if type(event) is ChildOutput and self.block is not None:
            # The hot path, kept short: one line into one pane.
            self.block.events_applied += 1
            self.block.child(event.child).add(
                (ERR if event.stream == "stderr" else OUT) + event.line
            )
            self.changes.add("panes")
            return
        self.last_t = max(self.last_t, event.t)
        if isinstance(event, RunStarted):
            self.started = event
            self.changes |= {"header", "invariants"}
            return
        if isinstance(event, IterationStarted):
            if self.paused and event.block == "iteration":
                self.after_pause.add(event.iteration)
                self.paused = False
            self.begin_block(event)
            self.summaries[event.iteration] = IterationSummary(
                event.iteration, event.block, event.t
            )
            self.changes |= {"block", "header", "iterations", "invariants", "panes", "state"}
            return
        if isinstance(event, RunFinished):
            self.finished = event
            self.changes |= {"header"}
            return
        if self.block is None:
            return
        self.changes |= self.block.apply(event)
        if isinstance(event, IterationFinished):
            summary = self.summaries.setdefault(
                event.iteration,
                IterationSummary(event.iteration, self.block.block, self.block.started_t),
            )
            summary.duration, summary.verdict, summary.breaks = (
                event.duration,
                event.verdict,
                list(event.breaks),
            )

    # --- header figures ---------------------------------------------------

    @property
    def total_iterations(self) -> int:
        return self.started.iterations if self.started else 0

    @property
    def iterations_done(self) -> int:
        return sum(
            1 for s in self.summaries.values() if s.block == "iteration" and s.verdict is not None
        )

    @property
    def iterations_per_second(self) -> float | None:
        """Iterations a second of the run's time, the time spent paused left out."""
        done = sorted(
            (s for s in self.summaries.values() if s.block == "iteration" and s.duration),
            key=lambda s: s.started_t,
        )
        if not done:
            return None
        busy = done[-1].duration or 0.0
        for one, after in zip(done, done[1:], strict=False):
            paused = after.iteration in self.after_pause
            busy += (one.duration or 0.0) if paused else after.started_t - one.started_t
        return len(done) / busy if busy > 0 else None

    @property
    def counts(self) -> dict[str, int]:
        if self.finished is not None:
            return dict(self.finished.counts)
        counts = {"tolerated": 0, "healed": 0, "persistent": 0}
        for summary in self.summaries.values():
            for brk in summary.breaks:
                if brk.classification:
                    counts[brk.classification] = counts.get(brk.classification, 0) + 1
        return counts
