"""The runner in a process of its own, for the app: events out as JSON lines, steering in.

In one process the app's drawing and the runner (children's pipes, looks at the
stores, scheduling decisions) share one GIL, and each waits for the other: the
iterations ran a third slower than headless. Here the runner runs exactly as it
does headless, and the app only reads its event stream.

The protocol, both ends of which live in this module:
- `python -m explorer.serve REQUEST` runs a `RunRequest`, given as its JSON.
- It writes every event on its stdout, one JSON line each, the trace's format,
  without ever blocking the runner on a slow reader (the lines of a pass of its
  loop in one write). Anything else the process prints goes to stderr.
- It reads one command a line on stdin: a `RunControl` method (pause, resume,
  one_more, stop, hold_decisions, one_decision, release_decisions) or interrupt.
  End of file on stdin means the app is gone, however it died: interrupt, so the
  children never outlive the app.
- It runs in a process group of its own, so the terminal's signals are the app's
  business; in the app's session all the same, so the kernel's scheduler weighs the
  two against each other and the app can yield the CPU to it (`os.nice`).
- The app reads the stream in a thread of its own, which drains the pipe however
  busy the app's loop is (drawing, a key), so the runner's process never waits for
  the app; the loop decodes the lines a chunk (hundreds) at a time, in one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from explorer.children import CHUNK, LineSplitter
from explorer.control import RunControl
from explorer.event_json import event_from_dict, event_from_json
from explorer.events import Event, RunFinished
from explorer.request import RunError, RunOptions, RunRequest
from explorer.runner import Runner
from explorer.scenario import Scenario
from explorer.scenario_values import ScenarioError

STEERING = (
    "pause", "resume", "one_more", "stop", "hold_decisions", "one_decision", "release_decisions",
)
STDERR_KEPT = 4000  # characters of the process's stderr kept for an error message


class RunnerProcess:
    """The app's end: runs `explorer.serve` and turns its lines back into events.

    It has the runner's face (`subscribe`, `run`, `interrupt`) and RunControl's
    (`pause`, `resume`, `one_more`), so the app steers it as it would the runner.
    """

    def __init__(self, scenario: Scenario, options: RunOptions) -> None:
        self.request = RunRequest.of(scenario, options)
        self._consumers: list[Callable[[Event], None]] = []
        self._process: asyncio.subprocess.Process | None = None
        self._interrupted = False
        self._early: list[str] = []  # commands given while the process was being started

    @property
    def trace_path(self) -> Path:
        assert self.request.options.trace_path is not None
        return self.request.options.trace_path

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def subscribe(self, consumer: Callable[[Event], None]) -> None:
        self._consumers.append(consumer)

    async def run(self) -> RunFinished:
        if self._interrupted:  # quit before the run began: nothing to start
            return RunFinished(t=0.0, iterations=0, counts={}, exit_code=130, interrupted=True)
        loop = asyncio.get_running_loop()
        events_out, events_in = os.pipe()
        try:
            process = self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "explorer.serve", self.request.to_json(),
                stdin=asyncio.subprocess.PIPE, stdout=events_in,
                stderr=asyncio.subprocess.PIPE, process_group=0,
            )  # fmt: skip
        except BaseException:
            os.close(events_out)
            raise
        finally:
            os.close(events_in)
        assert process.stderr is not None
        for command in self._early:
            self._send(command)
        if self._interrupted:  # q while the process was starting
            self._send("interrupt")
        stderr = asyncio.create_task(process.stderr.read())
        chunks: asyncio.Queue[list[bytes] | OSError | None] = asyncio.Queue()
        reader = threading.Thread(
            target=_read_lines, args=(events_out, loop, chunks.put_nowait),
            name="runner-events", daemon=True,
        )  # fmt: skip
        reader.start()
        finished: RunFinished | None = None
        try:
            while (lines := await chunks.get()) is not None:
                if isinstance(lines, OSError):
                    raise RunError(f"cannot read the runner process's events: {lines}")
                for event in _decode(lines):
                    if isinstance(event, RunFinished):
                        finished = event
                    for consumer in self._consumers:
                        consumer(event)
                # The thread may have queued many chunks: a key or a frame waiting on the
                # loop goes before the next, not after them all.
                await asyncio.sleep(0)
            code = await process.wait()
        finally:
            if process.returncode is None:  # the app is leaving on an error: so does the run
                self.interrupt()
        said = (await stderr).decode("utf-8", "replace").strip()[-STDERR_KEPT:]
        if finished is None:
            raise RunError(f"the runner process exited with {code}" + (f": {said}" if said else ""))
        return finished

    def _send(self, command: str) -> None:
        process = self._process
        if process is None:
            self._early.append(command)
            return
        if process.stdin is None or process.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):  # it has just exited
            process.stdin.write(command.encode() + b"\n")

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def one_more(self) -> None:
        self._send("one_more")

    def hold_decisions(self) -> None:
        self._send("hold_decisions")

    def one_decision(self) -> None:
        self._send("one_decision")

    def release_decisions(self) -> None:
        self._send("release_decisions")

    def interrupt(self) -> None:
        """Once: a second interrupt would cut short the runner's wind-down."""
        if not self._interrupted:
            self._interrupted = True
            if self._process is not None:
                self._send("interrupt")


def _read_lines(
    fd: int,
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[list[bytes] | OSError | None], None],
) -> None:
    """The reading thread: drains the pipe as fast as the runner fills it, whatever the
    app's loop is doing, and hands the loop its lines a chunk at a time, then None.
    Only bytes: decoding here would hold the GIL the loop needs for keys and drawing."""
    splitter = LineSplitter()
    try:
        with open(fd, "rb", buffering=0, closefd=True) as pipe:
            while chunk := pipe.read(CHUNK):
                if lines := splitter.feed(chunk):
                    loop.call_soon_threadsafe(deliver, lines)
        if tail := splitter.rest():
            loop.call_soon_threadsafe(deliver, [tail])
        loop.call_soon_threadsafe(deliver, None)
    except OSError as exc:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, exc)
    except RuntimeError:  # the loop is closed: the app is gone, nobody to tell
        pass


def _decode(lines: list[bytes]) -> list[Event]:
    """Lines of the stream to events, parsed as one JSON array: one call, not one a line.
    On the loop, a chunk (hundreds of lines, a few milliseconds) at a time: keys and
    frames come in between."""
    try:
        data = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        data = None
    if type(data) is not list or len(data) != len(lines):  # a bad line: say which
        return [event_from_json(line) for line in lines]
    return [event_from_dict(item) for item in data]


# --- the runner's end ---------------------------------------------------------------------


class _EventPipe(asyncio.Protocol):
    """Knows when the last buffered event has reached the pipe (or the reader is gone)."""

    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def serve(request: RunRequest, events_fd: int) -> int:
    loop = asyncio.get_running_loop()
    control = RunControl()
    runner = Runner(request.scenario, request.options, control=control)
    # The transport buffers without limit: a slow app must never stall the children.
    transport, pipe = await loop.connect_write_pipe(_EventPipe, os.fdopen(events_fd, "wb"))
    unsent: list[str] = []

    def send_unsent() -> None:
        # One write(2) for all the events of a pass of the loop (a chunk of a child's
        # output is hundreds), not one each.
        if not unsent:  # sent already, as the run ended
            return
        transport.write(("\n".join(unsent) + "\n").encode("utf-8"))
        unsent.clear()

    def queue(event: Event) -> None:
        if not unsent:
            loop.call_soon(send_unsent)
        unsent.append(event.to_json())

    runner.subscribe(queue)
    commands: dict[str, Callable[[], None]] = {name: getattr(control, name) for name in STEERING}
    commands["interrupt"] = runner.interrupt

    async def steer() -> None:
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        async for line in reader:
            command = commands.get(line.decode("utf-8", "replace").strip())
            if command is not None:
                command()
        runner.interrupt()  # end of file: the app is gone

    steering = asyncio.create_task(steer())
    try:
        finished = await runner.run()
    finally:
        steering.cancel()
        if unsent:
            send_unsent()
        transport.close()
        await pipe.closed
    return finished.exit_code


def main(argv: list[str]) -> int:
    # Events get the real stdout; a stray print goes to stderr instead of into the stream.
    events_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        request = RunRequest.from_json(argv[0])
        sys.argv = list(request.argv)  # the trace's header records the user's command
        return asyncio.run(serve(request, events_fd))
    except (ScenarioError, RunError) as exc:
        print(f"race-explorer: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, RunError) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
