"""JUnit XML for CI: one test case per block, a failure per failing break.

Tolerated breaks are not failures; they are listed in the case's system-out so
a reviewer can still see what was tolerated and why.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
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
from explorer.trace import replay_command
from explorer.vocabulary import NOT_RUN


class JUnitRecorder:
    """A consumer; `write()` after the run (it also works on a trace's events)."""

    def __init__(self, trace_path: Path) -> None:
        self.trace_path = trace_path
        self.scenario = "scenario"
        self.total = 0
        self._kind: BlockKind = "iteration"
        self._children: list[ChildSpec] = []
        self._exits: dict[int, str] = {}
        self._cases: list[ET.Element] = []
        self._finished: RunFinished | None = None
        self._time = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.scenario, self.total = event.scenario, event.iterations
        elif isinstance(event, IterationStarted):
            self._kind, self._children, self._exits = event.block, list(event.children), {}
        elif isinstance(event, ChildExited):
            self._exits[event.child] = event.outcome
        elif isinstance(event, IterationFinished):
            self._cases.append(self._case(event))
            self._time += event.duration
        elif isinstance(event, RunFinished):
            self._finished = event

    def _case(self, event: IterationFinished) -> ET.Element:
        name = block_name(self._kind, event.iteration, f"{event.iteration:03d}")
        case = ET.Element("testcase", classname=f"race-explorer.{self.scenario}", name=name,
                          time=f"{event.duration:.3f}")
        ops = "\n".join(f"child {c.child} {c.label}: {self._exits.get(c.child, NOT_RUN)}"
                        for c in self._children)
        for brk in event.breaks:
            if not brk.is_failure or brk.carried:  # a carried-over one failed where first seen
                continue
            failure = ET.SubElement(case, "failure", type=brk.classification or "",
                                    message=f"{brk.invariant}: {brk.message}")
            failure.text = (f"{brk.invariant} [{brk.classification}]\n{brk.message}\n\n{ops}\n\n"
                            f"replay: {replay_command(self.trace_path, event.iteration)}")
        noted = [b for b in event.breaks if b.classification == "tolerated" or b.carried]
        if noted:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(
                (f"still {b.classification} since iteration {b.first_seen} "
                 if b.carried else "tolerated ") + f"{b.invariant}: {b.message}" for b in noted)
        return case

    def write(self, path: Path) -> None:
        failures = sum(1 for case in self._cases if case.find("failure") is not None)
        suite = ET.Element("testsuite", name=f"race-explorer: {self.scenario}",
                           tests=str(len(self._cases)), failures=str(failures), errors="0",
                           time=f"{self._time:.3f}")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="trace", value=str(self.trace_path))
        if self._finished is not None:
            ET.SubElement(props, "property", name="interrupted",
                          value=str(self._finished.interrupted).lower())
            for cls, count in self._finished.counts.items():
                ET.SubElement(props, "property", name=f"{cls}_breaks", value=str(count))
        suite.extend(self._cases)
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
