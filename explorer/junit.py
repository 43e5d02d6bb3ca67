"""JUnit XML for CI: one test case per block × invariant, one failure element per failing case.

So the suite's `failures` is the number of `<failure>` elements, and a count
a CI dashboard shows means broken invariants. A break carried over from the
block before (see failures.py) is counted once, where it began: its later
cases pass and say in their system-out that it is still broken. Tolerated
breaks are not failures; they are listed in their case's system-out.

A consumer of the event stream; `junit_from_traces` builds one document from
recorded traces (one suite each), for merging shards.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

from explorer.events import (
    BlockKind,
    ChildExited,
    ChildSpec,
    Event,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    block_name,
)
from explorer.failures import FailureCollector
from explorer.trace import TraceReader, replay_command, why_command
from explorer.vocabulary import NOT_RUN

# What a suite needs from a trace: everything but output, snapshots and checks.
KINDS = frozenset(cls.kind for cls in (
    RunStarted, IterationStarted, ChildExited, IterationFinished, RunFinished))


class JUnitRecorder:
    """A consumer; `write()` (or `suite()`) after the run."""

    def __init__(self, trace_path: Path) -> None:
        self.trace_path = trace_path
        self.scenario = "scenario"
        self.invariants: list[str] = []
        self._failures = FailureCollector()
        self._kind: BlockKind = "iteration"
        self._children: list[ChildSpec] = []
        self._exits: dict[int, str] = {}
        self._cases: list[ET.Element] = []
        self._finished: RunFinished | None = None
        self._time = 0.0

    def __call__(self, event: Event) -> None:
        self._failures(event)
        if isinstance(event, RunStarted):
            self.scenario = event.scenario
            self.invariants = [i.name for i in event.invariants]
        elif isinstance(event, IterationStarted):
            self._kind, self._children, self._exits = event.block, list(event.children), {}
        elif isinstance(event, ChildExited):
            self._exits[event.child] = event.outcome
        elif isinstance(event, IterationFinished):
            self._cases += self._block_cases(event)
            self._time += event.duration
        elif isinstance(event, RunFinished):
            self._finished = event

    def _block_cases(self, event: IterationFinished) -> list[ET.Element]:
        block = block_name(self._kind, event.iteration, f"{event.iteration:03d}")
        carried = {(f.brk.invariant, f.brk.message): f.carried_from
                   for f in self._failures.carried_in_last_block()}
        # the block's own checks, then the runner's (setup_succeeded, ...) that broke in it
        names = list(self.invariants) if self._kind != "setup" else []
        names += [b.invariant for b in event.breaks if b.invariant not in names]
        ops = "\n".join(f"child {c.child} {c.label}: {self._exits.get(c.child, NOT_RUN)}"
                        for c in self._children)
        cases = []
        for name in names:
            case = ET.Element("testcase", classname=f"race-explorer.{self.scenario}",
                              name=f"{block}: {name}", time=f"{event.duration:.3f}")
            mine = [b for b in event.breaks if b.invariant == name]
            failing = [b for b in mine if b.is_failure and (name, b.message) not in carried]
            notes = [f"tolerated: {b.message}" for b in mine if b.classification == "tolerated"]
            notes += [f"still broken since block {carried[(name, b.message)]}, counted there: "
                      f"{b.message}" for b in mine if (name, b.message) in carried]
            if failing:
                failure = ET.SubElement(case, "failure", type=failing[0].classification or "",
                                        message=f"{name}: {failing[0].message}")
                failure.text = "\n".join(
                    [*(f"{name} [{b.classification}] {b.message}" for b in failing), "", ops,
                     "", *self._commands(event.iteration)])
            if notes:
                ET.SubElement(case, "system-out").text = "\n".join(notes)
            cases.append(case)
        if not cases:  # a block with nothing to check still ran
            cases.append(ET.Element("testcase", classname=f"race-explorer.{self.scenario}",
                                    name=block, time=f"{event.duration:.3f}"))
        return cases

    def _commands(self, iteration: int) -> list[str]:
        if self._kind != "iteration":
            return [f"replay: {replay_command(self.trace_path, iteration)}"]
        return [f"reproduce: {replay_command(self.trace_path, iteration, rerun=True)}",
                f"step by step: {why_command(self.trace_path, iteration)}"]

    def suite(self) -> ET.Element:
        failures = sum(1 for case in self._cases if case.find("failure") is not None)
        suite = ET.Element("testsuite", name=f"race-explorer: {self.scenario}",
                           tests=str(len(self._cases)), failures=str(failures), errors="0",
                           time=f"{self._time:.3f}")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="trace", value=str(self.trace_path.absolute()))
        if self._finished is not None:
            ET.SubElement(props, "property", name="interrupted",
                          value=str(self._finished.interrupted).lower())
            for cls, count in self._finished.counts.items():
                ET.SubElement(props, "property", name=f"{cls}_breaks", value=str(count))
        suite.extend(self._cases)
        return suite

    def write(self, path: Path) -> None:
        write_suites(path, [self.suite()])


def recorder_for(trace: Path, events: Iterable[Event] | None = None) -> JUnitRecorder:
    """A recorder fed a whole recorded run (its trace's events unless `events` are given)."""
    recorder = JUnitRecorder(trace)
    for event in TraceReader(trace).iter_events(kinds=KINDS) if events is None else events:
        recorder(event)
    return recorder


def junit_from_traces(traces: Sequence[Path]) -> ET.Element:
    """One document with a suite per trace: the JUnit of several runs (shards) at once."""
    root = ET.Element("testsuites")
    root.extend(recorder_for(trace).suite() for trace in traces)
    return root


def write_suites(path: Path, suites: Iterable[ET.Element]) -> None:
    root = ET.Element("testsuites")
    root.extend(suites)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
