"""The failures of a run, grouped by kind: what CI logs, JUnit, summaries and reports count.

A kind is an invariant, a class and a message shape (the message with its
extensions, versions, numbers and paths written as placeholders), so 23
failing iterations of one race read as one kind with a count, its first and
last iteration and one command that reproduces it. A break the judge marks as
carried over (`Break.first_seen`: the same invariant on the same entity, already
broken when the block started) was left behind, not made again: it is counted
once, where it began.

A consumer of the event stream (live, or a trace's events read back), with no
I/O of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from explorer.events import (
    BlockKind,
    Break,
    Event,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    block_name,
)
from explorer.judge import incident
from explorer.trace import replay_command, why_command
from explorer.why import SEEN_LIVE

# Most specific first: a path holds names and versions of its own.
_SHAPES = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
    (re.compile(r"@[\w.-]+/[\w.-]+(?:/[\w./-]+)?"), "NAME"),
    (re.compile(r"\b\d+(?:\.\d+)+\b"), "V"),
    (re.compile(r"\b\d+\b"), "N"),
    (re.compile(r"\([^()]*(?:NAME|V)[^()]*\)"), "(…)"),
)


def shape(message: str) -> str:
    """The message with what varies between occurrences written as placeholders."""
    for pattern, placeholder in _SHAPES:
        message = pattern.sub(placeholder, message)
    return message.removeprefix(SEEN_LIVE)


@dataclass(frozen=True)
class Failure:
    """One failing break of one block."""

    iteration: int
    block: BlockKind
    brk: Break
    carried_from: int | None = None  # the block it failed in first, when carried over

    @property
    def name(self) -> str:
        return block_name(self.block, self.iteration)


Kind = tuple[str, str, str]  # invariant, class, message shape


@dataclass
class FailureGroup:
    kind: Kind
    failures: list[Failure] = field(default_factory=list)  # not carried over
    carried: list[Failure] = field(default_factory=list)

    @property
    def invariant(self) -> str:
        return self.kind[0]

    @property
    def classification(self) -> str:
        return self.kind[1]

    @property
    def title(self) -> str:
        return f"{self.kind[0]} [{self.kind[1]}]: {self.kind[2]}"

    @property
    def first(self) -> Failure:
        return self.failures[0]

    @property
    def iterations(self) -> list[int]:
        return sorted({f.iteration for f in self.failures})

    def reproduce(self, trace: Path) -> str:
        first = self.first
        return replay_command(trace, first.iteration, rerun=first.block == "iteration")

    def why(self, trace: Path) -> str:
        return why_command(trace, self.first.iteration)


class FailureCollector:
    """Feed it events; `groups` holds the kinds in the order they first failed."""

    def __init__(self) -> None:
        self.scenario = ""
        self.total = 0
        self.finished: RunFinished | None = None
        self.groups: dict[Kind, FailureGroup] = {}
        self.blocks = 0
        self._block: BlockKind = "iteration"
        # each failing incident -> the block it was counted in, and its kind
        self._began: dict[tuple[str, str | None, str], tuple[int, Kind]] = {}
        self._last_new: list[Failure] = []
        self._last_carried: list[Failure] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.scenario, self.total = event.scenario, event.iterations
        elif isinstance(event, IterationStarted):
            self._block = event.block
        elif isinstance(event, IterationFinished):
            self.blocks += 1
            self._finished(event)
        elif isinstance(event, RunFinished):
            self.finished = event

    def _finished(self, event: IterationFinished) -> None:
        self._last_new, self._last_carried = [], []
        for brk in event.breaks:
            if not brk.is_failure:
                continue
            began = self._began.get(incident(brk)) if brk.carried else None
            if began is None:  # new, or carried over from a block where it did not fail
                kind: Kind = (brk.invariant, str(brk.classification), shape(brk.message))
                failure = Failure(event.iteration, self._block, brk)
                self.groups.setdefault(kind, FailureGroup(kind)).failures.append(failure)
                self._last_new.append(failure)
                self._began[incident(brk)] = (event.iteration, kind)
            else:  # counted in the group of the block it began in
                since, kind = began
                failure = Failure(event.iteration, self._block, brk, since)
                self.groups[kind].carried.append(failure)
                self._last_carried.append(failure)

    def new_in_last_block(self) -> list[Failure]:
        """The failures of the block just finished that were not carried over."""
        return list(self._last_new)

    def carried_in_last_block(self) -> list[Failure]:
        return list(self._last_carried)

    def kind_of(self, failure: Failure) -> tuple[int, FailureGroup]:
        """The kind's number (from 1, in order of first failure) and group."""
        for number, group in enumerate(self.groups.values(), 1):
            if failure in group.failures or failure in group.carried:
                return number, group
        raise KeyError(failure)

    @property
    def counted(self) -> int:
        return sum(len(g.failures) for g in self.groups.values())


def collect(events: Iterable[Event]) -> FailureCollector:
    collector = FailureCollector()
    for event in events:
        collector(event)
    return collector


def markdown(collector: FailureCollector, trace: Path) -> str:
    """A summary for `$GITHUB_STEP_SUMMARY`: the verdict, the counts, one row a kind."""
    done = collector.finished
    verdict = ("interrupted" if done and done.interrupted else
               "failed" if done and done.exit_code else "passed")
    lines = [f"## race-explorer: {collector.scenario} — {verdict}", ""]
    if done is not None:
        counts = ", ".join(f"{count} {cls}" for cls, count in done.counts.items())
        lines.append(f"{done.iterations} iteration(s) run; breaks: {counts}.")
    lines.append(f"Trace: `{trace.absolute()}`")
    if collector.groups:
        lines += ["", "| kind | failures | iterations | reproduce |", "| --- | ---: | --- | --- |"]
        for group in collector.groups.values():
            its = group.iterations
            span = f"{its[0]}–{its[-1]}" if len(its) > 1 else str(its[0])
            carried = f" (+{len(group.carried)} carried over)" if group.carried else ""
            title = group.title.replace("|", "\\|")
            lines.append(f"| {title} | {len(group.failures)}{carried} | {span} | "
                         f"`{group.reproduce(trace)}` |")
    return "\n".join(lines) + "\n"
