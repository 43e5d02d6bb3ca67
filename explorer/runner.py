"""The core runner: a scenario in, a stream of events out.

Blocks: 0 is the setup (sequential), 1..N the concurrent iterations, N+1 the
final reconcile, checked with no tolerance. Everything a face shows or a
checker re-checks is in the events; the runner records them itself, so every
run leaves a trace whatever face drove it.

The runner only orchestrates: the services start in services.py, the launcher
runs a block's children, the observer watches the block while they run, the
judge gives its verdict (the healer tries the reconcile on a copy), and the
block edges hand one block's end state to the next as its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.archive import archive_bytes, restore_archive
from explorer.block import Block
from explorer.children import ChildResult, ProcessGroups, unrunnable
from explorer.control import RunControl
from explorer.descendants import subreaper
from explorer.edges import BlockEdges
from explorer.events import (
    BlockKind,
    Break,
    ChildSpec,
    Event,
    InvariantSpec,
    IterationStarted,
    Phase,
    RunFinished,
    RunStarted,
)
from explorer.expansion import Expansion
from explorer.healer import Healer
from explorer.judge import SETUP_FAILED, Judge
from explorer.launcher import Launcher
from explorer.observer import Observer
from explorer.request import CannotRecord, RunError, RunOptions, trace_path_of
from explorer.scenario import Command, Scenario
from explorer.scenario_values import expand
from explorer.scheduling.base import OsScheduler, Scheduler, SchedulerContext, SchedulerFactory
from explorer.scheduling.checkpoints import SourceSettings
from explorer.services import start_service
from explorer.shard import header_fields, isolates_iterations, iteration_plan
from explorer.signals import signals_call
from explorer.trace import TraceBusy, TraceUnwritable, TraceWriter, make_header
from explorer.workdir import work_dir

__all__ = ["RunError", "RunOptions", "Runner"]

EXIT_CANNOT_RUN = 2  # as a usage error: the scenario asks for what cannot be done
INTERRUPT_GRACE = 3.0  # seconds for the blocks to wind down before they are cancelled


class _Interrupted(Exception):
    pass


class Runner:
    def __init__(
        self,
        scenario: Scenario,
        options: RunOptions,
        control: RunControl | None = None,
        scheduler_factory: SchedulerFactory | None = None,
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.control = control or RunControl()
        self.factory = scheduler_factory or options.scheduler_factory(scenario)
        self.iterations = scenario.iterations if options.iterations is None else options.iterations
        # The iterations this run does (a shard's share) and whether each starts afresh.
        self.plan = iteration_plan(self.iterations, options.shard, options.seeds)
        self._isolated = isolates_iterations(options.shard, options.seeds)
        self.handle_signals = True  # a face that owns SIGINT itself sets this False
        self._trace_path = trace_path_of(scenario, options)
        self._consumers: list[Callable[[Event], None]] = []
        self._groups = ProcessGroups()
        self._t0 = time.monotonic()
        self._body: asyncio.Task[None] | None = None
        self._interrupted = False
        self._completed = 0
        self._repo = Path()
        self._work = Path()
        self._judge = Judge(scenario, self.emit, self.now)
        # The parts that need the repo dir and the services' URLs, made once they are known.
        self._launcher: Launcher | None = None
        self._observer: Observer | None = None
        self._edges: BlockEdges | None = None

    # -- the API -------------------------------------------------------------------------

    def subscribe(self, consumer: Callable[[Event], None]) -> None:
        self._consumers.append(consumer)

    @property
    def trace_path(self) -> Path:
        return self._trace_path

    @property
    def repo_dir(self) -> Path:
        """Where the children run (valid once `run()` started)."""
        return self._repo

    def interrupt(self) -> None:
        """Kill every child group now; the run ends as interrupted (exit 130)."""
        body = self._body
        if self._interrupted:
            if body is not None:
                body.cancel()  # a second Ctrl-C: stop waiting for a clean wind-down
            return
        self._interrupted = True
        self._groups.kill_all("interrupt")
        self.control.stop()
        if body is not None:
            asyncio.get_running_loop().call_later(INTERRUPT_GRACE, body.cancel)

    async def run(self) -> RunFinished:
        """RunError (exit 2) if it cannot start; CannotRecord (exit 74) if the trace cannot
        be written, the run then stopped."""
        self._t0 = time.monotonic()
        # The signal handlers first: from here on a Ctrl-C is an interrupt, never a
        # KeyboardInterrupt between making the trace or the work dir and cleaning them up.
        # Orphans of the children (one that left its group with setsid) come to the
        # runner, so the end of each block can end them too.
        with subreaper(), signals_call(self.interrupt, enabled=self.handle_signals):
            writer = self._open_trace()
            try:
                with work_dir(self.options.work_dir) as work:
                    self._work = work
                    self._repo = (work / "repo").resolve()
                    return await self._run(writer)
            finally:
                writer.close()
                if writer.failure is not None:  # also when closing it failed
                    raise CannotRecord(writer.failure)

    def _open_trace(self) -> TraceWriter:
        header = make_header(scenario=self.scenario.name, scenario_path=self._scenario_path(),
                             seed=self.options.seed,
                             extra=header_fields(self.scenario, self.options.to_dict()))
        try:
            writer = TraceWriter(self._trace_path, header, on_failure=self._cannot_record)
        except TraceBusy as exc:
            raise RunError(str(exc)) from exc
        except TraceUnwritable as exc:
            raise CannotRecord(str(exc)) from exc
        self._consumers.insert(0, writer)  # first: a failing face still leaves a trace
        return writer

    def _cannot_record(self) -> None:
        """The trace failed: a run that leaves no record is not worth going on with."""
        self._groups.kill_all("interrupt")
        self.control.stop()
        if self._body is not None:
            self._body.cancel()

    async def _run(self, writer: TraceWriter) -> RunFinished:
        try:
            try:
                self._prepare_repo()
                self._body = asyncio.create_task(self._blocks(), name="runner-blocks")
                await self._body
            except RunError as exc:
                if not self._interrupted:  # a killed service fails to start: still Ctrl-C
                    # The trace says why it ends here; the face that catches it says it too.
                    writer(self._finished(EXIT_CANNOT_RUN, error=str(exc)))
                    raise
            except (_Interrupted, asyncio.CancelledError):
                if not self._interrupted and writer.failure is None:
                    raise
            code = 130 if self._interrupted else (1 if self._judge.failed else 0)
            finished = self._finished(code)
            if writer.failure is None:
                self.emit(finished)
            return finished
        finally:
            self._groups.kill_all("interrupt")
            await self._groups.end_orphans()
            if self._edges is not None:
                await self._edges.abandon()

    # -- plumbing ------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self._t0

    def emit(self, event: Event) -> None:
        for consumer in self._consumers:
            consumer(event)

    def _finished(self, code: int, error: str | None = None) -> RunFinished:
        return RunFinished(t=self.now(), iterations=self._completed,
                           counts=dict(self._judge.counts), exit_code=code,
                           interrupted=self._interrupted, error=error,
                           notes=self.factory.notes())

    def _scenario_path(self) -> str | None:
        return str(self.scenario.path.resolve()) if self.scenario.path else None

    def _prepare_repo(self) -> None:
        if self._repo.exists() and any(self._repo.iterdir()):
            raise RunError(f"{self._repo} is not empty: give a fresh --work-dir")
        self._repo.mkdir(parents=True, exist_ok=True)

    def _check_programs(self, expansion: Expansion) -> None:
        """RunError before block 0 if a command cannot be started: a typo in a program's
        name must not first show as a failed setup or a half-run iteration."""
        s = self.scenario
        named = [*(("setup step", c) for c in s.setup), *(("op", c) for c in s.ops),
                 *([("reconcile", s.reconcile)] if s.reconcile else [])]
        for what, command in named:
            program = expansion.spec(0, command).argv[0]
            why = unrunnable(program, expansion.env, self._repo, made_later=self._work.resolve())
            if why:
                raise RunError(f"{what} '{command.label}': {why}")

    # -- the run ---------------------------------------------------------------------------

    async def _blocks(self) -> None:
        if self._interrupted:
            raise _Interrupted  # interrupted before the run even started
        values = self.scenario.placeholders(sys.executable, self._repo, self._work,
                                            profile=self.options.profile, bugs=self.options.bugs)
        async with contextlib.AsyncExitStack() as stack:
            for service in self.scenario.services:
                values[service.name] = await start_service(service, values, self._groups, stack)
            expansion = Expansion.of(self.scenario, values)
            self._check_programs(expansion)
            stores = expansion.stores()
            self._launcher = Launcher(expansion, self._repo, self._groups, self.emit, self.now,
                                      held=self.control.held_seconds)
            self._edges = edges = BlockEdges(self._repo, stores, self.scenario.archive, self.now)
            self._observer = observer = Observer(self.scenario, self._repo, stores, self.emit,
                                                 self.now)
            self._judge.heal = Healer(self._repo, expansion, stores, self._groups,
                                      edges.end_archive, observer.flush)
            self.emit(RunStarted(
                t=self.now(), scenario=self.scenario.name, scenario_path=self._scenario_path(),
                seed=self.options.seed, iterations=self.iterations,
                ops=[expansion.spec(i, op) for i, op in enumerate(self.scenario.ops)],
                invariants=[InvariantSpec(i.name, i.when) for i in self.scenario.invariants],
                repo_dir=str(self._repo), watched=list(self.scenario.watch),
                profile=self.options.profile, bugs=list(self.options.bugs),
                strategy=self.factory.strategy,
                checkpoints=self.options.checkpoint_mode(self.scenario),
            ))
            await observer.start(stack)

            if not await self._setup():
                return
            fresh = await edges.archive() if self._isolated else None
            stopped = False  # by a face or Ctrl-C: the reconcile is skipped
            for place, iteration in enumerate(self.plan):
                if self._interrupted or not await self.control.next_iteration():
                    stopped = True
                    break
                if self.options.max_time is not None and self.now() >= self.options.max_time:
                    break  # --max-time: a clean end at an iteration boundary, then the reconcile
                if fresh is not None and place:
                    await self._start_afresh(fresh)
                await self._iteration(iteration)
                self._completed += 1
            if not stopped and not self._interrupted:
                await self._final(self.iterations + 1)

    async def _start_afresh(self, archive: str) -> None:
        """Put the repo dir back as the setup left it (a shard's iterations, see shard.py)."""
        assert self._edges is not None and self._observer is not None
        await self._edges.abandon()  # the last block's end state is being archived
        await asyncio.to_thread(restore_archive, archive, self._repo, self.scenario.archive,
                                replace=True)
        await self._observer.let_go()  # the restore's own changes belong to no block
        self._edges.forget()
        self._judge.start_afresh()

    async def _setup(self) -> bool:
        """Block 0: the setup steps in order; False when one failed (the run stops)."""
        block = await self._open(0, "setup", list(self.scenario.setup))
        failure: Break | None = None
        for spec, command in zip(block.specs, self.scenario.setup, strict=True):
            if self._interrupted:
                raise _Interrupted
            result = await self._launch(block, spec, OsScheduler(), command)
            if self._interrupted:
                raise _Interrupted
            if result.returncode != 0:
                last = (block.lines.get(spec.child) or ["no output"])[-1:]
                how = (f"was killed ({result.killed})" if result.killed
                       else f"exited {result.returncode}")
                failure = Break(SETUP_FAILED, f"setup step {spec.child} ({spec.label}) {how}: "
                                f"{last[0]}", classification="persistent")
                break
        await self._close(block, "quiescent", extra=[failure] if failure else [])
        return failure is None

    async def _iteration(self, iteration: int) -> None:
        block = await self._open(iteration, "iteration", list(self.scenario.ops))
        scheduler = self.factory.for_block(iteration)
        assert self._observer is not None and self._launcher is not None
        observer, launcher = self._observer, self._launcher
        await scheduler.start(SchedulerContext(
            iteration=iteration, emit=self.emit, now=self.now,
            kill=lambda child: launcher.kill(block, child),
            # Children past the concurrency limit start later and register then.
            children=[s.child for s in block.specs][: self.scenario.concurrency],
            settled=lambda: observer.settled(block),
            decision_gate=self.control.next_decision,
            checkpoints=self._checkpoint_settings(launcher.expansion),
        ))
        gate = asyncio.Semaphore(self.scenario.concurrency)

        async def one(spec: ChildSpec, command: Command) -> ChildResult:
            async with gate:
                return await launcher.run(block, spec, scheduler, command)

        try:
            await asyncio.gather(*(
                one(spec, command)
                for spec, command in zip(block.specs, self.scenario.ops, strict=True)
            ))
        finally:
            await scheduler.stop()
        if self._interrupted:
            raise _Interrupted
        await self._close(block, "quiescent")

    def _checkpoint_settings(self, expansion: Expansion) -> SourceSettings:
        """The scenario's checkpoint roots, filled in; a relative one is under the repo."""
        given = self.scenario.checkpoints
        roots = (self._repo / expand(root, expansion.values) for root in given.roots)
        return SourceSettings(tuple(os.path.normpath(r) for r in roots), given.groups)

    async def _final(self, iteration: int) -> None:
        commands = [self.scenario.reconcile] if self.scenario.reconcile else []
        block = await self._open(iteration, "reconcile", commands)
        for spec, command in zip(block.specs, commands, strict=True):
            await self._launch(block, spec, OsScheduler(), command)
        if self._interrupted:
            raise _Interrupted
        await self._close(block, "final")

    async def _open(self, iteration: int, kind: BlockKind, commands: Sequence[Command]) -> Block:
        assert self._launcher is not None and self._edges is not None
        assert self._observer is not None
        specs = [self._launcher.expansion.spec(i, command) for i, command in enumerate(commands)]
        start = self.now()
        block = Block(iteration, specs, started=start, kind=kind)
        archive, snapshot = await self._edges.start_state(start)
        self.emit(IterationStarted(t=start, iteration=iteration, block=kind, children=specs,
                                   archive_bytes=archive_bytes(archive)))
        event = snapshot.to_event(t=self.now(), iteration=iteration, phase="start")
        self.emit(dataclasses.replace(event, archive=archive))
        block.last = block.start = snapshot
        self._judge.opened(block, snapshot)
        self._observer.follow(block)
        return block

    async def _launch(
        self, block: Block, spec: ChildSpec, scheduler: Scheduler, command: Command
    ) -> ChildResult:
        assert self._launcher is not None
        return await self._launcher.run(block, spec, scheduler, command)

    async def _close(self, block: Block, phase: Phase, extra: Sequence[Break] = ()) -> None:
        """The block's children are gone: its end state, checked and judged."""
        assert self._edges is not None and self._observer is not None
        await self._groups.end_orphans()  # nothing the block started outlives it
        reading = self._edges.ending(block.last)
        await self._observer.let_go()  # the block's last changes belong to the block
        snapshot = await reading
        self.emit(snapshot.to_event(t=self.now(), iteration=block.iteration, phase=phase))
        await self._judge.judge(block, phase, snapshot, extra)
        self._edges.ended(snapshot)
