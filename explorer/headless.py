"""The headless face: progress, every failing break in full, a summary, an exit code.

A consumer of the event stream like any other. On a terminal it draws a Rich
progress bar; in CI (no terminal) it prints one plain line per block, which
logs well. Each failing break is printed with what a person needs to act on
it: the invariant and its message, the ops with their exit codes, the last
lines of every child, and the command that replays the iteration.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from explorer.events import (
    CLASSIFICATIONS,
    BlockKind,
    Break,
    ChildExited,
    ChildOutput,
    ChildSpec,
    Event,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    Stream,
    block_name,
)
from explorer.junit import JUnitRecorder
from explorer.request import RunError, RunRequest
from explorer.runner import Runner
from explorer.trace import replay_command, shrink_command
from explorer.visible import visible_record
from explorer.vocabulary import VERDICT_STYLES, outcome, style

TAIL = 5  # last lines shown per child



def _annotation_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class _Child:
    spec: ChildSpec
    tail: deque[tuple[Stream, str]] = field(default_factory=lambda: deque(maxlen=TAIL))
    returncode: int | None = None
    killed: str | None = None
    exited: bool = False

    def status(self) -> str:
        return outcome(self.returncode, self.killed, exited=self.exited)


class HeadlessReporter:
    """Subscribe it to a runner; `exit_code` is set once the run finished."""

    def __init__(self, console: Console, trace_path: Path, *, github: bool = False) -> None:
        self.console = console
        self.trace_path = trace_path
        self.github = github
        self.exit_code: int | None = None
        self.total = 0
        self.scenario = ""
        self.strategy, self.seed = "os", 0
        self._kind: BlockKind = "iteration"
        self._children: dict[int, _Child] = {}
        self._verdicts: dict[str, int] = dict.fromkeys(VERDICT_STYLES, 0)
        self._failed_iterations: list[int] = []
        self._archives: list[int] = []  # each iteration's start archive, bytes in the trace
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    # -- output helpers ----------------------------------------------------------------------

    def _print(self, *items: Text | Table | str) -> None:
        target = self._progress.console if self._progress is not None else self.console
        for item in items:
            target.print(item, soft_wrap=True, markup=False, highlight=False)

    # -- events ----------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        event = visible_record(event)  # what children wrote reaches a terminal: escape it
        if isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, IterationStarted):
            self._kind = event.block
            self._children = {s.child: _Child(s) for s in event.children}
            if event.block == "iteration" and event.archive_bytes is not None:
                self._archives.append(event.archive_bytes)
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=block_name(
                    event.block, event.iteration, f"{event.iteration}/{self.total}"))
        elif isinstance(event, ChildOutput):
            child = self._children.get(event.child)
            if child is not None:
                child.tail.append((event.stream, event.line))
        elif isinstance(event, ChildExited):
            child = self._children.get(event.child)
            if child is not None:
                child.returncode, child.killed, child.exited = (
                    event.returncode, event.killed, True)
        elif isinstance(event, IterationFinished):
            self._iteration_finished(event)
        elif isinstance(event, RunFinished):
            self._run_finished(event)

    def _run_started(self, event: RunStarted) -> None:
        self.total = event.iterations
        self.scenario = event.scenario
        self.strategy, self.seed = event.strategy, event.seed
        extras = []
        if event.profile:
            extras.append(f"profile {event.profile}")
        if event.bugs:
            extras.append(f"bugs {','.join(event.bugs)}")
        if event.strategy != "os":
            extras.append(f"strategy {event.strategy}")
        self._print(Text(
            f"race-explorer: scenario {event.scenario}, {event.iterations} iterations of "
            f"{len(event.ops)} children, seed {event.seed}"
            + "".join(f", {e}" for e in extras)
        ))
        self._print(Text(f"recording to {self.trace_path}", style="dim"))
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[verdicts]}"), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self._task = self._progress.add_task("setup", total=event.iterations,
                                                 verdicts="")
            self._progress.start()

    def _iteration_finished(self, event: IterationFinished) -> None:
        if self._kind == "iteration":
            self._verdicts[event.verdict] += 1
        name = block_name(self._kind, event.iteration, f"{event.iteration}/{self.total}")
        tolerated = sum(1 for b in event.breaks if b.classification == "tolerated")
        if self._progress is not None and self._task is not None:
            if self._kind == "iteration":
                self._progress.advance(self._task)
            self._progress.update(self._task, verdicts=self._verdict_summary())
        else:
            note = f" ({tolerated} tolerated break(s))" if tolerated else ""
            line = Text(f"{name}: ")
            line.append(event.verdict, style=style(event.verdict))
            line.append(f"{note} ({event.duration:.2f} s)")
            self._print(line)
        # A break carried over from an earlier block was reported there: one incident.
        failing = [b for b in event.breaks if b.is_failure and not b.carried]
        if failing:
            self._failed_iterations.append(event.iteration)
            self._report_failure(event.iteration, name, failing)

    def _verdict_summary(self) -> str:
        v = self._verdicts
        return f"{v['clean']} clean, {v['tolerated']} tolerated, {v['failed']} failed"

    def _report_failure(self, iteration: int, name: str, failing: list[Break]) -> None:
        head = Text(f"FAILED {name}", style="bold red")
        self._print(head)
        for brk in failing:
            line = Text("  ")
            line.append(brk.invariant, style="bold")
            line.append(f" [{brk.classification}] ", style=style(brk.classification))
            line.append(brk.message)
            self._print(line)
            if self.github:
                title = _annotation_escape(f"race-explorer: {brk.invariant} ({brk.classification})")
                body = _annotation_escape(f"{name}: {brk.message}")
                self.console.file.write(f"::error title={title}::{body}\n")
        for child in self._children.values():
            self._print(Text(f"  child {child.spec.child} {child.spec.label}: {child.status()}",
                             style="dim" if child.returncode == 0 else ""))
            for stream, text in child.tail:
                mark = "!" if stream == "stderr" else "|"
                self._print(Text(f"      {mark} {text}", style="red" if stream == "stderr" else ""))
        self._print(Text(f"  replay: {replay_command(self.trace_path, iteration)}", style="cyan"))
        if self._kind == "iteration":
            self._print(Text(f"  found by strategy {self.strategy}, seed {self.seed}; re-execute: "
                             f"{replay_command(self.trace_path, iteration, rerun=True)}",
                             style="cyan"))
            self._print(Text(f"  shrink: {shrink_command(self.trace_path, iteration)}",
                             style="cyan"))

    def _run_finished(self, event: RunFinished) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self.exit_code = event.exit_code
        table = Table(title=f"race-explorer — {self.scenario}", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        table.add_row("iterations run", f"{event.iterations}/{self.total}")
        for verdict, count in self._verdicts.items():
            table.add_row(f"  {verdict}", str(count), style=style(verdict) if count else "")
        for cls in CLASSIFICATIONS:
            count = event.counts.get(cls, 0)
            table.add_row(f"{cls} breaks", str(count), style=style(cls) if count else "")
        if self._archives:
            table.add_row("archive an iteration", archive_words(self._archives))
        self._print(table)
        if event.interrupted:
            self._print(Text("interrupted: children killed, the trace holds everything so far",
                             style="yellow"))
        elif event.exit_code:
            failed = ", ".join(str(i) for i in self._failed_iterations)
            self._print(Text(f"failed in block(s) {failed}", style="bold red"))
        else:
            self._print(Text("no unexplained break", style="green"))
        self._print(Text(f"trace: {self.trace_path}"))


def archive_words(sizes: list[int]) -> str:
    """Each iteration's start archive in the trace: mean and largest."""
    return f"{sum(sizes) / len(sizes) / 1024:.1f} KB (max {max(sizes) / 1024:.1f} KB)"


def run_headless(request: RunRequest, junit_path: Path | None = None,
                 console: Console | None = None) -> int:
    """Run to the end with the headless face; returns the process exit code."""
    console = console or Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    runner = Runner(request.scenario, request.options)
    reporter = HeadlessReporter(console, runner.trace_path,
                                github=os.environ.get("GITHUB_ACTIONS") == "true")
    runner.subscribe(reporter)
    junit = JUnitRecorder(runner.trace_path) if junit_path else None
    if junit is not None:
        runner.subscribe(junit)
    try:
        finished = asyncio.run(runner.run())
    except RunError as exc:
        err.print(f"race-explorer: {exc}", markup=False, highlight=False)
        return 2
    finally:
        if junit is not None and junit_path is not None:
            junit.write(junit_path)
    return finished.exit_code
