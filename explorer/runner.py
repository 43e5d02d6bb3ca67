"""The core runner: a scenario in, a stream of events out.

Blocks: 0 is the setup (sequential), 1..N the concurrent iterations, N+1 the
final reconcile, checked with no tolerance. Everything a face shows or a
checker re-checks is in the events; the runner records them itself, so every
run leaves a trace whatever face drove it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from explorer.children import ChildResult, ProcessGroups, run_child
from explorer.classify import classify, distinct, strict
from explorer.control import RunControl
from explorer.events import (
    BlockKind,
    Break,
    ChildExited,
    ChildOutput,
    ChildSpec,
    ChildStarted,
    Event,
    FileChanged,
    InvariantChecked,
    InvariantSpec,
    IterationFinished,
    IterationStarted,
    Phase,
    RunFinished,
    RunStarted,
    StateSnapshot,
    Stream,
    Verdict,
)
from explorer.invariants import Transcript, due
from explorer.scenario import Command, Scenario, Service, expand
from explorer.scheduling.base import OsScheduler, Scheduler, SchedulerContext, SchedulerFactory
from explorer.scheduling.factory import make_factory
from explorer.snapshot import Snapshot, archive_dir, catalog_files, read_snapshot, store_stamp
from explorer.trace import TraceWriter, default_trace_path, make_header
from explorer.watch import Batch, RepoWatcher

SETUP_FAILED = "setup_succeeded"
TIMED_OUT = "children_finish_in_time"
INTERRUPT_GRACE = 3.0  # seconds for the blocks to wind down before they are cancelled
STRIPPED_ENV = ("RACE_EXPLORER_SOCKET", "RACE_EXPLORER_CHILD")
REUSE_WINDOW = 1.0  # seconds a block's end state is trusted as the next block's start


class RunError(Exception):
    """The run cannot start: a service that never printed its URL, an unknown strategy."""


class _Interrupted(Exception):
    pass


@dataclass
class RunOptions:
    seed: int = 0
    iterations: int | None = None  # overrides the scenario
    profile: str | None = None  # -> LIFECYCLE_PROFILE for children
    bugs: list[str] = field(default_factory=list)  # -> LIFECYCLE_BUGS
    trace_path: Path | None = None  # default .race-explorer/runs/<stamp>-<scenario>.jsonl
    work_dir: Path | None = None  # parent of the repo dir (a temp dir by default)
    strategy: str = "os"
    depth: int = 3
    kill_at: str | None = None
    kill_rate: float = 0.0


def make_scheduler_factory(options: RunOptions) -> SchedulerFactory:
    try:
        return make_factory(options.strategy, options.seed, depth=options.depth,
                            kill_at=options.kill_at, kill_rate=options.kill_rate)
    except ValueError as exc:
        raise RunError(str(exc)) from exc


@dataclass
class _Block:
    """What the runner knows about the block in progress."""

    iteration: int
    specs: list[ChildSpec]
    lines: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    returncodes: dict[int, int | None] = field(default_factory=dict)
    pgids: dict[int, int] = field(default_factory=dict)
    live_results: dict[str, list[Break]] = field(default_factory=dict)
    live_breaks: list[Break] = field(default_factory=list)  # `always` invariants, while running
    last: Snapshot | None = None
    timed_out: list[str] = field(default_factory=list)
    fault_killed: list[list[str]] = field(default_factory=list)  # argv of children killed
    stamp: tuple[tuple[int, int] | None, ...] = ()  # the stores' (mtime, size) last looked at
    started: float = 0.0
    _transcripts: list[Transcript] | None = None

    def add_line(self, child: int, text: str) -> None:
        self.lines[child].append(text)
        self._transcripts = None

    def exited(self, child: int, returncode: int | None) -> None:
        self.returncodes[child] = returncode
        self._transcripts = None

    def transcripts(self) -> list[Transcript]:
        """The children's outputs so far; kept between looks at the stores that saw no
        new line (most of them, under a scheduler), rebuilt only after one."""
        if self._transcripts is None:
            self._transcripts = self._build_transcripts()
        return self._transcripts

    def _build_transcripts(self) -> list[Transcript]:
        return [
            Transcript(s.child, s.label, tuple(self.lines.get(s.child, ())),
                       self.returncodes.get(s.child))
            for s in self.specs
        ]


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
        self.factory = scheduler_factory or make_scheduler_factory(options)
        self.iterations = scenario.iterations if options.iterations is None else options.iterations
        self.handle_signals = True  # a face that owns SIGINT itself sets this False
        self._trace_path = options.trace_path or default_trace_path(scenario.name)
        self._consumers: list[Callable[[Event], None]] = []
        self._groups = ProcessGroups()
        self._t0 = time.monotonic()
        self._block: _Block | None = None
        self._watcher: RepoWatcher | None = None
        self._catalog_files = catalog_files(scenario.layout)
        self._quiescent: Snapshot | None = None  # the stores as the last block left them
        self._next_archive: asyncio.Future[str] | None = None  # ditto, as a tar.gz
        self._closed_at = float("-inf")
        self._body: asyncio.Task[None] | None = None
        self._interrupted = False
        self._completed = 0
        self._counts: dict[str, int] = {"tolerated": 0, "healed": 0, "persistent": 0}
        self._carried: set[str] = set()  # extensions left with tolerated breaks, unrepaired
        self._failed = False
        self._values: dict[str, str] = {}
        self._env: dict[str, str] = {}
        self._repo = Path()
        self._work = Path()

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

    @property
    def interrupted(self) -> bool:
        return self._interrupted

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
        self._t0 = time.monotonic()
        header = make_header(
            scenario=self.scenario.name,
            scenario_path=str(self.scenario.path.resolve()) if self.scenario.path else None,
            seed=self.options.seed,
        )
        writer = TraceWriter(self._trace_path, header)
        self._consumers.insert(0, writer)  # first: a failing face still leaves a trace
        created = self.options.work_dir is None
        self._work = Path(tempfile.mkdtemp(prefix="race-explorer-")) if created else Path(
            self.options.work_dir or "."
        )
        self._repo = (self._work / "repo").resolve()
        handlers = self._install_signal_handlers()
        try:
            self._prepare_repo()
            self._body = asyncio.create_task(self._blocks(), name="runner-blocks")
            try:
                await self._body
            except (_Interrupted, asyncio.CancelledError, RunError):
                if not self._interrupted:  # a killed service fails to start: still Ctrl-C
                    raise
            code = 130 if self._interrupted else (1 if self._failed else 0)
            finished = RunFinished(t=self.now(), iterations=self._completed,
                                   counts=dict(self._counts), exit_code=code,
                                   interrupted=self._interrupted)
            self.emit(finished)
            return finished
        finally:
            self._groups.kill_all("interrupt")
            if self._next_archive is not None:  # made for a block that will never start
                with contextlib.suppress(Exception):
                    await self._next_archive
            self._remove_signal_handlers(handlers)
            writer.close()
            if created:
                shutil.rmtree(self._work, ignore_errors=True)

    # -- plumbing ------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self._t0

    def emit(self, event: Event) -> None:
        for consumer in self._consumers:
            consumer(event)

    def _install_signal_handlers(self) -> list[signal.Signals]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return []
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.interrupt)
                installed.append(sig)
        return installed

    def _remove_signal_handlers(self, installed: list[signal.Signals]) -> None:
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)

    def _prepare_repo(self) -> None:
        if self._repo.exists() and any(self._repo.iterdir()):
            raise RunError(f"{self._repo} is not empty: give a fresh --work-dir")
        self._repo.mkdir(parents=True, exist_ok=True)

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
        env["PYTHONUNBUFFERED"] = "1"  # stream a Python child's lines as they are printed
        env.update({k: expand(v, self._values) for k, v in self.scenario.env.items()})
        for service in self.scenario.services:
            if service.url_env:
                env[service.url_env] = self._values[service.name]
        if self.options.profile:
            env["LIFECYCLE_PROFILE"] = self.options.profile
        if self.options.bugs:
            env["LIFECYCLE_BUGS"] = ",".join(self.options.bugs)
        return env

    def _spec(
        self, child: int, command: Command, values: dict[str, str] | None = None
    ) -> ChildSpec:
        argv = [expand(part, values or self._values) for part in command.argv]
        return ChildSpec(child=child, label=command.label, argv=argv)

    # -- the run ---------------------------------------------------------------------------

    async def _blocks(self) -> None:
        if self._interrupted:
            raise _Interrupted  # interrupted before the run even started
        self._values = self.scenario.placeholders(sys.executable, self._repo, self._work)
        async with contextlib.AsyncExitStack() as stack:
            for service in self.scenario.services:
                url = await self._start_service(service, stack)
                self._values[service.name] = url
            self._env = self._child_env()
            ops = [self._spec(i, op) for i, op in enumerate(self.scenario.ops)]
            self.emit(RunStarted(
                t=self.now(), scenario=self.scenario.name,
                scenario_path=str(self.scenario.path.resolve()) if self.scenario.path else None,
                seed=self.options.seed, iterations=self.iterations, ops=ops,
                invariants=[InvariantSpec(i.name, i.when) for i in self.scenario.invariants],
                repo_dir=str(self._repo), watched=list(self.scenario.watch),
                profile=self.options.profile, bugs=list(self.options.bugs),
                strategy=self.factory.strategy,
            ))
            self._watcher = watcher = RepoWatcher(self._repo, self.scenario.watch, self._on_batch)
            await watcher.start()
            stack.push_async_callback(watcher.stop)

            if not await self._setup():
                return
            for iteration in range(1, self.iterations + 1):
                if self._interrupted or not await self.control.next_iteration():
                    break
                await self._iteration(iteration)
                self._completed = iteration
            else:
                if not self._interrupted:
                    await self._final(self.iterations + 1)

    async def _start_service(self, service: Service, stack: contextlib.AsyncExitStack) -> str:
        values = dict(self._values)
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
        env.update({k: expand(v, values) for k, v in service.env.items()})
        argv = [expand(part, values) for part in service.argv]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
        )
        self._groups.add(proc.pid)
        tail: list[str] = []

        async def drain(reader: asyncio.StreamReader | None) -> None:
            # An undrained pipe fills and blocks the service mid-request.
            while reader is not None and (chunk := await reader.read(65536)):
                tail.extend(chunk.decode("utf-8", "replace").splitlines()[-5:])
                del tail[:-5]

        async def stop() -> None:
            self._groups.kill(proc.pid, "interrupt")
            self._groups.discard(proc.pid)
            await proc.wait()
            for task in drains:
                task.cancel()

        drains: list[asyncio.Task[None]] = []
        stack.push_async_callback(stop)
        assert proc.stdout is not None
        try:
            first = await asyncio.wait_for(proc.stdout.readline(), service.start_timeout)
        except TimeoutError:
            first = b""
        drains = [asyncio.create_task(drain(proc.stdout)), asyncio.create_task(drain(proc.stderr))]
        url = first.decode("utf-8", "replace").strip()
        if not url:
            if proc.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 0.5)
            if proc.returncode is not None:
                await asyncio.wait(drains, timeout=1.0)  # its last words, for the message
            why = "exited" if proc.returncode is not None else "printed no URL"
            raise RunError(f"service {service.name} ({' '.join(argv)}) {why} within "
                           f"{service.start_timeout:g} s: {' | '.join(tail) or 'no output'}")
        return url

    async def _setup(self) -> bool:
        """Block 0: the setup steps in order; False when one failed (the run stops)."""
        block = await self._open(0, "setup", list(self.scenario.setup))
        failure: Break | None = None
        for spec, command in zip(block.specs, self.scenario.setup, strict=True):
            if self._interrupted:
                raise _Interrupted
            result = await self._run_one(block, spec, OsScheduler(), command)
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
        await scheduler.start(SchedulerContext(
            iteration=iteration, emit=self.emit, now=self.now,
            kill=lambda child: self._kill_child(block, child),
            # Children past the concurrency limit start later and register then.
            children=[s.child for s in block.specs][: self.scenario.concurrency],
            settled=lambda: self._settled(block),
            decision_gate=self.control.next_decision,
        ))
        gate = asyncio.Semaphore(self.scenario.concurrency)

        async def one(spec: ChildSpec, command: Command) -> ChildResult:
            async with gate:
                return await self._run_one(block, spec, scheduler, command)

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

    async def _final(self, iteration: int) -> None:
        commands = [self.scenario.reconcile] if self.scenario.reconcile else []
        block = await self._open(iteration, "reconcile", commands)
        for spec, command in zip(block.specs, commands, strict=True):
            await self._run_one(block, spec, OsScheduler(), command)
        if self._interrupted:
            raise _Interrupted
        await self._close(block, "final")

    async def _open(self, iteration: int, kind: BlockKind, commands: Sequence[Command]) -> _Block:
        specs = [self._spec(i, command) for i, command in enumerate(commands)]
        start = self.now()
        block = _Block(iteration, specs, started=start)
        # Nothing runs between blocks, so the last block's end is this one's start -- unless
        # the run was paused meanwhile and someone may have touched the repo: then look again.
        fresh = start - self._closed_at < REUSE_WINDOW
        pending, self._next_archive = self._next_archive, None
        if pending is not None and not fresh:
            with contextlib.suppress(Exception):
                await pending
            pending = None
        archive = await (pending or asyncio.to_thread(archive_dir, self._repo))
        self.emit(IterationStarted(t=start, iteration=iteration, block=kind, children=specs))
        snapshot = self._quiescent if fresh else None
        if snapshot is None:
            snapshot = await asyncio.to_thread(read_snapshot, self._repo, self.scenario.layout)
        event = snapshot.to_event(t=self.now(), iteration=iteration, phase="start")
        self.emit(StateSnapshot(**{**event.__dict__, "archive": archive}))
        block.last = snapshot
        self._block = block
        return block

    def _kill_child(self, block: _Block, child: int) -> None:
        pgid = block.pgids.get(child)
        if pgid is not None:
            self._groups.kill(pgid, "fault")

    async def _run_one(
        self, block: _Block, spec: ChildSpec, scheduler: Scheduler, command: Command
    ) -> ChildResult:
        iteration = block.iteration
        env = {**self._env, **scheduler.child_env(spec.child)}
        timeout = command.timeout or self.scenario.timeout

        def started(pid: int) -> None:
            block.pgids[spec.child] = pid
            self.emit(ChildStarted(t=self.now(), iteration=iteration, child=spec.child,
                                   label=spec.label, argv=spec.argv, pid=pid))
            scheduler.child_started(spec.child, pid)

        def line(stream: Stream, text: str) -> None:
            block.add_line(spec.child, text)
            self.emit(ChildOutput(t=self.now(), iteration=iteration, child=spec.child,
                                  stream=stream, line=text))

        try:
            result = await run_child(spec.argv, env=env, cwd=str(self._repo), timeout=timeout,
                                     groups=self._groups, on_start=started, on_line=line,
                                     held=self.control.held_seconds)
        finally:
            scheduler.child_exited(spec.child)
        block.exited(spec.child, result.returncode)
        if result.killed == "fault":
            block.fault_killed.append(spec.argv)
        if result.killed == "timeout":
            block.timed_out.append(f"child {spec.child} ({spec.label}) was still running after "
                                   f"{timeout:g} s and was killed with its process group")
        self.emit(ChildExited(t=self.now(), iteration=iteration, child=spec.child,
                              returncode=result.returncode, killed=result.killed))
        return result

    def _in_stores(self, path: str) -> bool:
        layout = self.scenario.layout
        return (path == layout.lockfile or path in self._catalog_files
                or path == layout.tree or path.startswith(layout.tree.rstrip("/") + "/")
                or layout.tree in (".", ""))

    async def _on_batch(self, batch: Batch) -> None:
        """A settled batch of file changes: report it, look at the stores, check live."""
        block = self._block
        if block is None:
            return
        self.emit(FileChanged(t=self.now(), iteration=block.iteration, changes=batch))
        touched = {path for _, path in batch}
        if not any(self._in_stores(path) for path in touched):
            return  # lock files, temp files, staging: the three stores read the same as before
        await self._look(block, catalog_changed=not touched.isdisjoint(self._catalog_files))

    async def _settled(self, block: _Block) -> None:
        """Every child is parked at a checkpoint, so the stores hold still: look at them if
        they changed. A torn write a child is parked in the middle of is then seen every
        time, not only when the watcher happens to read in time."""
        stamp = store_stamp(self._repo, self.scenario.layout)
        if stamp != block.stamp:
            block.stamp = stamp
            await self._look(block, catalog_changed=True)

    async def _look(self, block: _Block, *, catalog_changed: bool) -> None:
        """Read the stores while children run, and check every invariant on what they say."""
        snapshot = await asyncio.to_thread(
            read_snapshot, self._repo, self.scenario.layout, block.last,
            catalog_changed=catalog_changed,
        )
        if self._block is not block:
            return  # the block ended meanwhile; its quiescent snapshot supersedes this one
        if snapshot != block.last:
            block.last = snapshot
            self.emit(snapshot.to_event(t=self.now(), iteration=block.iteration, phase="live"))
        outputs = block.transcripts()
        for inv in self.scenario.invariants:
            breaks = inv.run(snapshot, outputs)
            if inv.when == "always":
                block.live_breaks.extend(breaks)
            if block.live_results.get(inv.name) != breaks:
                # Only changes are news: the app shows the rest as still in flux.
                block.live_results[inv.name] = breaks
                self.emit(InvariantChecked(t=self.now(), iteration=block.iteration,
                                           invariant=inv.name, when=inv.when, phase="live",
                                           breaks=breaks))

    async def _close(self, block: _Block, phase: Phase, extra: Sequence[Break] = ()) -> None:
        """The block's children are gone: check, classify, report its verdict."""
        # The children are gone, so the repo already is this block's end and the next one's
        # start: read and archive it while the watcher catches up.
        self._next_archive = asyncio.ensure_future(asyncio.to_thread(archive_dir, self._repo))
        reading = asyncio.ensure_future(
            asyncio.to_thread(read_snapshot, self._repo, self.scenario.layout, block.last))
        if self._watcher is not None:
            await self._watcher.flush()  # the block's last changes belong to the block
        self._block = None
        snapshot = await reading
        self._quiescent = snapshot
        self.emit(snapshot.to_event(t=self.now(), iteration=block.iteration, phase=phase))
        outputs = block.transcripts()
        checked = due(self.scenario.invariants, phase)
        found = [b for inv in checked for b in inv.run(snapshot, outputs)]
        live = [
            Break(b.invariant, f"while the children ran: {b.message}", b.extension)
            for b in distinct(block.live_breaks)
            if b not in found
        ]
        timeouts = [Break(TIMED_OUT, message) for message in block.timed_out]
        unclassified = distinct([*found, *live, *timeouts])
        if phase == "final":
            breaks = strict(unclassified)
        else:
            known = {row.name for row in snapshot.catalog} | {
                b.extension for b in unclassified if b.extension}
            breaks = await classify(
                unclassified, outputs, self.scenario.transients, heal=self._heal,
                killed=block.fault_killed, known=known, carried=self._carried, seen_live=live,
            )
            self._carried = {
                b.extension for b in breaks if b.classification == "tolerated" and b.extension
            }
        breaks = [*extra, *breaks]
        for inv in checked:
            self.emit(InvariantChecked(
                t=self.now(), iteration=block.iteration, invariant=inv.name, when=inv.when,
                phase=phase, breaks=[b for b in breaks if b.invariant == inv.name],
            ))
        for brk in breaks:
            if brk.classification is not None:
                self._counts[brk.classification] += 1
        failing = any(b.is_failure for b in breaks)
        self._failed = self._failed or failing
        verdict: Verdict = "failed" if failing else ("tolerated" if breaks else "clean")
        self.emit(IterationFinished(t=self.now(), iteration=block.iteration,
                                    duration=self.now() - block.started,
                                    verdict=verdict, breaks=breaks))
        self._closed_at = self.now()

    async def _heal(self) -> list[Break] | None:
        """Breaks left after the reconcile runs on a copy of the repo; None: no reconcile."""
        reconcile = self.scenario.reconcile
        if reconcile is None:
            return None
        scratch = Path(tempfile.mkdtemp(prefix="race-explorer-heal-"))  # not under the watch
        copy = scratch / "repo"
        try:
            await asyncio.to_thread(shutil.copytree, self._repo, copy, symlinks=True,
                                    ignore=shutil.ignore_patterns("*-shm"))
            values = {**self._values, "repo": str(copy)}
            spec = self._spec(0, reconcile, values)
            env = {**self._env, **{k: expand(v, values) for k, v in self.scenario.env.items()}}
            result = await run_child(spec.argv, env=env, cwd=str(copy),
                                     timeout=reconcile.timeout or self.scenario.timeout,
                                     groups=self._groups)
            snapshot = await asyncio.to_thread(read_snapshot, copy, self.scenario.layout)
            outputs = [Transcript(0, reconcile.label, tuple(text for _, text in result.lines),
                                  result.returncode)]
            left = [b for inv in due(self.scenario.invariants, "final")
                    for b in inv.run(snapshot, outputs)]
            if result.killed == "timeout":
                left.append(Break(TIMED_OUT, "the reconcile on a copy timed out"))
            return left
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

