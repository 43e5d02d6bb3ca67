"""The headless face: progress, each kind of failure once in full, a summary, an exit code.

A consumer of the event stream like any other. On a terminal it draws a Rich
progress bar; in CI (no terminal) it prints one plain line per block, which
logs well. The first failure of each kind (see failures.py) is printed with
what a person needs to act on it: the break, the step that made it, the
children that touched what it concerns with their last lines, and absolute
commands that explain, re-execute and shrink it; a later one of the same kind
is one line. The run ends with the failures grouped by kind, each with one
reproduce command; under GitHub Actions each kind is an annotation carrying
that command, and a Markdown summary goes to `$GITHUB_STEP_SUMMARY`.
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
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from explorer.events import (
    CLASSIFICATIONS,
    BlockKind,
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
from explorer.failures import Failure, FailureCollector, markdown
from explorer.junit import JUnitRecorder
from explorer.request import RunError, RunRequest
from explorer.runner import Runner
from explorer.trace import replay_command, shrink_command, why_command
from explorer.visible import visible, visible_record
from explorer.vocabulary import VERDICT_STYLES, outcome, style
from explorer.why import explain

TAIL = 5  # last lines shown per child
KEPT_LINES = 2000  # output lines of a block kept for explaining its break



def _annotation_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class _Child:
    spec: ChildSpec
    tail: deque[tuple[Stream, str]] = field(default_factory=lambda: deque(maxlen=TAIL))
    returncode: int | None = None
    killed: str | None = None
    exited: bool = False
    leftovers: int = 0

    def status(self) -> str:
        return outcome(self.returncode, self.killed, exited=self.exited,
                       leftovers=self.leftovers)


class HeadlessReporter:
    """Subscribe it to a runner; `exit_code` is set once the run finished."""

    def __init__(self, console: Console, trace_path: Path, *, github: bool = False,
                 planned: int | None = None, step_summary: Path | None = None) -> None:
        self.console = console
        self.planned = planned  # iterations this run does (a shard's share), for the bar
        self.trace_path = trace_path
        self.github = github
        self.step_summary = step_summary
        self.failures = FailureCollector()
        self._block_events: list[Event] = []
        self._kept_lines = 0
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
        self.failures(event)
        self._keep(event)
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
                child.leftovers = event.leftovers
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
            extras.append(f"strategy {event.strategy}, {event.checkpoints} checkpoints")
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
                TextColumn("eta"), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            total = event.iterations if self.planned is None else self.planned
            self._task = self._progress.add_task("setup", total=total,
                                                 verdicts="")
            self._progress.start()

    def _keep(self, event: Event) -> None:
        """A block's events, for explaining its break (its output lines only up to a cap)."""
        if isinstance(event, IterationStarted):
            self._block_events, self._kept_lines = [], 0
        if isinstance(event, ChildOutput):
            self._kept_lines += 1
            if self._kept_lines > KEPT_LINES:
                return
        self._block_events.append(event)

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
        if any(b.is_failure for b in event.breaks):
            # A break carried over from an earlier block failed there: one incident.
            if self.failures.new_in_last_block():
                self._failed_iterations.append(event.iteration)
            self._report_failures(event.iteration, name, event)

    def _verdict_summary(self) -> str:
        v = self._verdicts
        return f"{v['clean']} clean, {v['tolerated']} tolerated, {v['failed']} failed"

    def _report_failures(self, iteration: int, name: str, event: IterationFinished) -> None:
        fresh: list[Failure] = []
        for failure in self.failures.new_in_last_block():
            number, group = self.failures.kind_of(failure)
            if group.first is failure:
                fresh.append(failure)
                continue
            line = Text(f"FAILED {name}: kind #{number} again: ", style="red")
            line.append(f"{failure.brk.invariant} [{failure.brk.classification}] ")
            line.append(failure.brk.message, style="")
            self._print(line)
        for failure in self.failures.carried_in_last_block():
            self._print(Text(f"{name}: still broken since block {failure.carried_from}, counted "
                             f"there: {failure.brk.invariant}: {failure.brk.message}",
                             style="dim"))
        if fresh:
            self._report_new_kinds(iteration, name, fresh)

    def _report_new_kinds(self, iteration: int, name: str, fresh: list[Failure]) -> None:
        kinds = ", ".join(f"#{self.failures.kind_of(f)[0]}" for f in fresh)
        self._print(Text(f"FAILED {name} (new kind {kinds})", style="bold red"))
        whys = explain(self._block_events, [f.brk for f in fresh])
        for failure in fresh:
            brk = failure.brk
            line = Text("  ")
            line.append(brk.invariant, style="bold")
            line.append(f" [{brk.classification}] ", style=style(brk.classification))
            line.append(brk.message)
            self._print(line)
            if self.github:
                self._annotate(name, failure)
        involved = {c.child for why in whys for c in why.children}
        for why in whys:
            labels = {c.child: c.label for c in why.children}
            about = why.entity or "the stores"
            broke = next((s for s in why.steps if s.number == why.breaking_step), None)
            if broke is not None:
                changes = "; ".join(c.describe(named=why.entity is None) for c in broke.changes)
                when = (f"at step {broke.number}" if broke.action != "free"
                        else "while the children ran unscheduled")
                self._print(Text(visible(f"  {about} broke {when}: {broke.moves(labels)}"
                                         + (f": {changes}" if changes else "")), style="red"))
            who = ", ".join(f"{c.child} ({c.label})" for c in why.children) or "none recorded"
            self._print(Text(f"  children that touched {about}: {who}"))
        for child in self._children.values():
            if involved and child.spec.child not in involved:
                continue
            self._print(Text(f"  child {child.spec.child} {child.spec.label}: {child.status()}",
                             style="dim" if child.returncode == 0 else ""))
            for stream, text in child.tail:
                mark = "!" if stream == "stderr" else "|"
                self._print(Text(f"      {mark} {text}", style="red" if stream == "stderr" else ""))
        others = [f"{c.spec.child} {c.spec.label} ({c.status()})"
                  for c in self._children.values() if involved and c.spec.child not in involved]
        if others:
            self._print(Text(f"  not involved: {', '.join(others)}", style="dim"))
        self._commands(iteration)

    def _commands(self, iteration: int) -> None:
        if self._kind != "iteration":
            self._print(Text(f"  replay: {replay_command(self.trace_path, iteration)}",
                             style="cyan"))
            return
        self._print(Text(f"  step by step: {why_command(self.trace_path, iteration)}",
                         style="cyan"))
        self._print(Text(f"  re-execute (found by strategy {self.strategy}, seed {self.seed}): "
                         f"{replay_command(self.trace_path, iteration, rerun=True)}",
                         style="cyan"))
        self._print(Text(f"  shrink: {shrink_command(self.trace_path, iteration)}", style="cyan"))

    def _annotate(self, name: str, failure: Failure) -> None:
        number, group = self.failures.kind_of(failure)
        brk = failure.brk
        title = _annotation_escape(f"race-explorer: {brk.invariant} ({brk.classification})")
        body = _annotation_escape(f"{name}: {brk.message}\nreproduce: "
                                  f"{group.reproduce(self.trace_path)}")
        self.console.file.write(f"::error title={title}::{body}\n")

    def _grouped(self) -> None:
        groups = list(self.failures.groups.values())
        if not groups:
            return
        carried = sum(len(g.carried) for g in groups)
        self._print(Text(f"failures by kind: {self.failures.counted} failing break(s) of "
                         f"{len(groups)} kind(s)"
                         + (f", {carried} more carried over" if carried else ""), style="bold"))
        for number, group in enumerate(groups, 1):
            its = group.iterations
            what = ("iteration" if all(f.block == "iteration" for f in group.failures)
                    else "block")
            where = (f"{what}s {its[0]}–{its[-1]}" if len(its) > 1 else f"{what} {its[0]}")
            self._print(Text(f"  #{number} ×{len(group.failures)} in {where}: {group.title}",
                             style="red"))
            self._print(Text(f"     first: {group.first.name}: {group.first.brk.message}"))
            self._print(Text(f"     reproduce: {group.reproduce(self.trace_path)}",
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
        self._grouped()
        if self._archives:
            table.add_row("archive an iteration", archive_words(self._archives))
        self._print(table)
        for note in event.notes:
            self._print(Text(visible(f"note: {note}"), style="yellow"))
        if event.interrupted:
            self._print(Text("interrupted: children killed, the trace holds everything so far",
                             style="yellow"))
        elif event.exit_code:
            failed = ", ".join(str(i) for i in self._failed_iterations)
            self._print(Text(f"failed in block(s) {failed}", style="bold red"))
        else:
            self._print(Text("no unexplained break", style="green"))
        self._print(Text(f"trace: {self.trace_path}"))
        if self.step_summary is not None:
            with self.step_summary.open("a", encoding="utf-8") as out:
                out.write(markdown(self.failures, self.trace_path))


def archive_words(sizes: list[int]) -> str:
    """Each iteration's start archive in the trace: mean and largest."""
    return f"{sum(sizes) / len(sizes) / 1024:.1f} KB (max {max(sizes) / 1024:.1f} KB)"


def run_headless(request: RunRequest, junit_path: Path | None = None,
                 console: Console | None = None) -> int:
    """Run to the end with the headless face; returns the process exit code."""
    console = console or Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    runner = Runner(request.scenario, request.options)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    reporter = HeadlessReporter(console, runner.trace_path,
                                github=os.environ.get("GITHUB_ACTIONS") == "true",
                                planned=len(runner.plan),
                                step_summary=Path(summary) if summary else None)
    runner.subscribe(reporter)
    junit = JUnitRecorder(runner.trace_path) if junit_path else None
    if junit is not None:
        runner.subscribe(junit)
    try:
        finished = asyncio.run(runner.run())
    except RunError as exc:
        err.print(f"race-explorer: {exc}", markup=False, highlight=False)
        return exc.exit_code
    finally:
        if junit is not None and junit_path is not None:
            junit.write(junit_path)
    if not finished.interrupted and finished.iterations < len(runner.plan):
        console.print(f"stopped by --max-time after {finished.iterations} of "
                      f"{len(runner.plan)} iterations", markup=False, highlight=False)
    return finished.exit_code
