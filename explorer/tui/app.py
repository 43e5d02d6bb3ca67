"""The Textual app on a live run or a recorded trace, and the CLI's two entry points.

The app owns the run: the runner's process (`explorer.serve.RunnerProcess`), whose
event stream it reads on its own loop, the steering, the signals and the exit code.
`receive` folds every event into its `History` and `RunView` as it comes; once a
frame the `MainScreen` writes what changed in one batch, so a child printing
thousands of lines a second costs a few widget calls per frame, not one per line.

Replay: the same screen over a `TraceHistory`, which reads the trace's outline when it
opens and each block's events when the screen goes to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import RenderableType
from textual.app import App, SystemCommand
from textual.reactive import var
from textual.screen import Screen

from explorer.events import Event, RunFinished, RunStarted
from explorer.tui.actions import ACTIONS, BY_NAME, app_bindings
from explorer.tui.help_screen import HelpScreen
from explorer.tui.history import History, Position
from explorer.tui.main_screen import MainScreen
from explorer.tui.messages import EventsQueued, RunEnded
from explorer.tui.model import RunView
from explorer.tui.timeline import TimelineScreen

if TYPE_CHECKING:
    from explorer.runner import RunOptions
    from explorer.scenario import Scenario

FRAME_SECONDS = 1 / 20  # output panes are redrawn at most this often
# The children being watched need the CPU more than the screen does: frames are spaced
# so that the app's thread takes about this share of a core (fewer frames when they are
# dear), but never further apart than SLOWEST_FRAME_SECONDS, or a fast run would only
# ever show the first line of each iteration. A frame of a fast run (a new iteration:
# every pane, the list, the invariants) costs about 25 ms: some 4 a second; a frame that
# only adds a pane's lines costs less and comes more often, up to 20 a second.
DRAW_SHARE = 0.1
SLOWEST_FRAME_SECONDS = 0.5
APP_NICENESS = 10
# A frame makes and drops thousands of small objects: at Python's default (700) the
# collector ran some 20 times a frame. Fewer, larger young passes let most die unseen.
YOUNG_COLLECTION_THRESHOLD = 10_000
QUIT_GRACE_SECONDS = 15.0
EXIT_INTERRUPTED = 130
EXIT_HANGUP = 129


class Steering(Protocol):
    """How the app steers a live run: `RunControl`, or the runner's process."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def one_more(self) -> None: ...

    def hold_decisions(self) -> None: ...

    def one_decision(self) -> None: ...

    def release_decisions(self) -> None: ...


class RunnerLike(Protocol):
    """What the app needs of the runner: `explorer.serve.RunnerProcess`, a fake in tests."""

    def subscribe(self, consumer: Any) -> None: ...

    async def run(self) -> RunFinished: ...

    def interrupt(self) -> None: ...


class ExplorerApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "race-explorer"
    BINDINGS = app_bindings()

    paused: var[bool] = var(False)  # what the user asked
    stepping: var[bool] = var(False)  # holding the scheduling decisions, one at a time

    def __init__(
        self,
        *,
        runner: RunnerLike | None = None,
        control: Steering | None = None,
        history: History | None = None,
        notice: str | None = None,
        source: str = "",
        trace_path: Path | None = None,
        start: Position | None = None,
        handle_signals: bool = False,
        yield_cpu: bool = False,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.control = control
        self.history = history if history is not None else History()
        self.notice = notice
        self.source = source
        self.trace_path = trace_path  # where `shrink` leaves its cases: the why view reads them
        self.view = RunView()  # the live fold; in replay, unused
        self.run_result: RunFinished | None = None
        self.run_error: BaseException | None = None
        self.handle_signals = handle_signals
        self.yield_cpu = yield_cpu
        self.main_screen = MainScreen(start)
        self._flush_scheduled = False
        self._last_flush = 0.0
        self._flush_cpu = 0.0  # the app thread's CPU time when the last frame began
        self._cycle_cpu = 0.0  # and what the frame before it cost, drawing and all
        self._run_ended = asyncio.Event()
        self._terminating = False
        self._gc_threshold: tuple[int, ...] | None = None  # Python's, put back on the way out

    @property
    def live(self) -> bool:
        return self.runner is not None

    @property
    def running(self) -> bool:
        return self.live and self.run_result is None and self.run_error is None

    def get_default_screen(self) -> Screen[Any]:
        return self.main_screen

    async def on_mount(self) -> None:
        if self.notice:
            self.warn_about_trace(self.notice)
        if self.runner is None:
            self._freeze_start_up()  # live, at the first frame: the screen is built by then
            self.call_after_refresh(self.run_worker, self._check_replay, group="check")
            return
        self._flush_cpu = time.thread_time()  # start-up is not a frame's cost
        loop = asyncio.get_running_loop()
        self._run_ended = asyncio.Event()
        self.runner.subscribe(self.receive)
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._on_terminate, sig)
        self.run_worker(self._drive(), name="runner", group="runner", exit_on_error=False)

    def _freeze_start_up(self) -> None:
        """What is built by now (modules, the screen's widgets and styles, a replay's
        outline of thousands of events) lives as long as the app: the collector need not
        walk it again and again. Its full passes took a quarter of a live app's CPU
        (about 90 ms each); on a 200 MB replay, 0.25 s each."""
        gc.freeze()
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *self._gc_threshold[1:])

    def warn_about_trace(self, warning: str) -> None:
        self.notify(warning, title="Trace", severity="warning", timeout=10)

    async def _check_replay(self) -> None:  # once the screen is up, between frames
        for _ in self.history.check():
            await asyncio.sleep(0)
        if warning := self.history.take_warning():
            self.warn_about_trace(warning)

    # --- the live stream, a frame at a time ---------------------------------------------

    def receive(self, event: Event) -> None:
        """The runner's consumer: fold the event in; the frame timer draws what changed.

        Folded as it comes (a chunk of the stream at a time), not at the frame: a frame
        that first folded the lines of a flood kept a key waiting for that long."""
        if self.yield_cpu and isinstance(event, RunStarted):
            # The runner's process has started, at the priority it had: from now on
            # the screen yields the CPU to it and to the children it watches.
            self.yield_cpu = False
            os.nice(APP_NICENESS)
        self.history.record(event)
        self.view.apply(event)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.post_message(EventsQueued())

    def on_events_queued(self, _: EventsQueued) -> None:
        spacing = min(max(FRAME_SECONDS, self._cycle_cpu / DRAW_SHARE), SLOWEST_FRAME_SECONDS)
        wait = self._last_flush + spacing - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self.flush)
        else:
            self.call_later(self.flush)

    async def flush(self) -> None:
        """Update the screen once with what changed since the last frame."""
        self._flush_scheduled = False
        if not self._last_flush:  # the first frame: the screen is built, the run begins
            self._freeze_start_up()
        self._last_flush = time.monotonic()
        # All the app's thread did since the last frame began (that frame's drawing, the
        # layout passes it caused, the events it read) paces the next.
        cpu = time.thread_time()
        self._cycle_cpu, self._flush_cpu = cpu - self._flush_cpu, cpu
        changes = self.view.take_changes()
        if not changes:
            return
        if isinstance(self.screen, TimelineScreen):
            self.screen.catch_up()
        await self.main_screen.show_changes(changes)

    # --- the run's lifecycle -------------------------------------------------------------

    async def _drive(self) -> None:
        """Worker: await the run; the app stays open to show how it ended."""
        runner = self.runner
        assert runner is not None
        try:
            self.run_result = await runner.run()
        except Exception as exc:
            self.run_error = exc
        finally:
            self._run_ended.set()
            self.post_message(RunEnded())

    def _interrupt_runner(self) -> None:
        if self.runner is not None:
            self.runner.interrupt()

    def _on_terminate(self, sig: signal.Signals) -> None:
        """SIGTERM, or SIGHUP (the terminal went away): stop the run, then leave."""
        if sig == signal.SIGHUP:
            # Nothing reads the terminal any more: Textual's writer thread dies on its
            # first write and the app would block on a later frame, never to exit. The
            # runner's process sees its stdin close, kills the children and closes the
            # trace by itself.
            os._exit(EXIT_HANGUP)
        elif self._run_ended.is_set():
            self.exit(self.exit_code)
        else:
            self._terminating = True  # leave when the run ends, however it ends
            self._interrupt_runner()

    async def on_run_ended(self, _: RunEnded) -> None:
        await self.flush()
        result, error = self.run_result, self.run_error
        if self._terminating or (result is not None and result.interrupted):
            # q, or a SIGTERM: the children are gone, so is the app.
            self.exit(self.exit_code)
            return
        if error is not None:
            self.notify(f"The run failed: {error}", severity="error", timeout=30)
        elif result is not None:
            self.notify(
                f"The run finished: exit code {result.exit_code}. Browse the iterations; q quits.",
                title="Run over",
                timeout=10,
            )
        self.main_screen.refresh_status()

    # --- steering the live run (the main screen watches `paused` and `stepping`) ---------

    def action_pause(self) -> None:
        if self.control is None or self.paused:
            return
        self.paused = self.view.paused = True
        self.control.pause()
        self.notify("Paused: the current iteration finishes, no new one starts. n: one more.")

    def action_resume(self) -> None:
        if self.control is None or not self.paused:
            return
        self.paused = self.view.paused = False
        self.control.resume()
        self.notify("Resumed.")

    def action_one_more(self) -> None:
        if self.control is not None:
            self.control.one_more()
            self.notify("One more iteration.")

    def action_step_decision(self) -> None:
        if self.control is None:
            return
        if self.stepping:
            self.control.one_decision()
            return
        self.control.hold_decisions()
        self.stepping = True
        self.notify("Decisions held: s lets one through, g goes on.")

    def action_release_decisions(self) -> None:
        if self.control is not None and self.stepping:
            self.control.release_decisions()
            self.stepping = False

    # --- the actions' availability, the palette, help -------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        declared = BY_NAME.get(action)
        return declared.available(self.main_screen) if declared is not None else True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            if not action.title or not action.available(self.main_screen):
                continue
            if action.where != "app" and screen is not self.main_screen:
                continue  # like its key, nothing to do behind the timeline or the help
            # Run as the key runs it: in the namespace it is bound to.
            target = self.main_screen if action.where == "screen" else self
            run = partial(target.run_action, action.action)
            yield SystemCommand(action.title, action.description, run)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # --- quitting --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.runner is not None and not self._run_ended.is_set():
            self.notify("Stopping the children…")
            self._interrupt_runner()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._run_ended.wait(), QUIT_GRACE_SECONDS)
        self.exit(self.exit_code)

    def exit(
        self,
        result: int | None = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        # However the app ends (q, ctrl+q, an error), the children must not outlive it.
        if self.runner is not None and not self._run_ended.is_set():
            self._interrupt_runner()
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        gc.unfreeze()
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
        if self.runner is not None and not self._run_ended.is_set():
            self._interrupt_runner()

    @property
    def exit_code(self) -> int:
        if self.run_result is not None:
            return self.run_result.exit_code
        if self.run_error is not None:
            return 2
        if self.live:
            return EXIT_INTERRUPTED
        return 0


# --- entry points (the CLI imports these lazily) -------------------------------------------


def run_live(scenario: Scenario, options: RunOptions) -> int:
    from explorer.serve import RunnerProcess

    runner = RunnerProcess(scenario, options)
    app = ExplorerApp(
        runner=runner,
        control=runner,
        source=str(runner.trace_path),
        trace_path=runner.trace_path,
        handle_signals=True,
        yield_cpu=True,
    )
    code = app.run()
    print(exit_summary(app.view, runner.trace_path))
    return code if code is not None else EXIT_INTERRUPTED


def exit_summary(view: RunView, trace: Path) -> str:
    """What the terminal keeps once the app is gone: the trace, the counts, the first failure."""
    from explorer.trace import replay_command

    counts = " · ".join(f"{cls} {n}" for cls, n in sorted(view.counts.items()))
    lines = [f"trace: {trace.resolve()}", f"{view.iterations_done} iterations · {counts}"]
    failed = sorted(n for n, s in view.summaries.items() if s.verdict == "failed")
    if failed:
        command = replay_command(trace.resolve(), failed[0], rerun=True)
        lines.append(f"first failure, iteration {failed[0]}; reproduce: {command}")
    return "\n".join(lines)


def load_replay(trace_path: Path, iteration: int | None = None) -> ExplorerApp:
    from explorer.trace import TraceReader
    from explorer.tui.trace_history import TraceHistory

    reader = TraceReader(trace_path)
    history = TraceHistory(reader)
    notice = reader.warning
    if reader.warning and history.iterations:
        notice = f"{reader.warning}. Showing the last good event."
    start = None
    if iteration is not None and iteration in history.iterations:
        start = Position(iteration, history.last_index(iteration))
    return ExplorerApp(
        history=history, notice=notice, source=trace_path.name, trace_path=trace_path, start=start
    )


def run_replay(trace_path: Path, iteration: int | None = None) -> int:
    app = load_replay(Path(trace_path), iteration)
    code = app.run()
    return code if code is not None else 0
