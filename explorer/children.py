"""Running one child: its own process group, output line by line, a hard timeout.

Output is read in chunks and split here rather than with `readline()`, whose
64 KiB limit would kill the reader on one long line; bytes that are not UTF-8
are replaced, never fatal. A child past its timeout, or any child when the run
is interrupted, is killed with its whole process group, so grandchildren go too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from explorer.descendants import children_of, end_orphans, holds_pipes, live_members
from explorer.events import KillReason, Stream

CHUNK = 65536
DRAIN = 0.2  # seconds to read what is left in the pipes once the child has exited


class CannotStart(Exception):
    """The program could not be started; the message says why and names it."""


def unrunnable(program: str, env: Mapping[str, str], cwd: Path, *, made_later: Path) -> str | None:
    """Why `program` (an argv[0]) cannot be started from `cwd`, or None. A program under
    `made_later` (the run's work dir, empty when this is asked) is not judged: a setup step
    may build it there."""
    if "/" not in program:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        return None if found else f"command not found: {program}"
    path = Path(os.path.normpath(cwd / program))
    if path == made_later or made_later in path.parents:
        return None
    if not path.is_file():
        return f"command not found: {program}"
    if not os.access(path, os.X_OK):
        return f"not executable: {program}"
    return None


@dataclass
class ChildResult:
    pid: int
    returncode: int | None
    killed: KillReason | None
    lines: list[tuple[Stream, str]] = field(default_factory=list)
    leftovers: int = 0  # processes of its group still running when it exited, killed then


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class ProcessGroups:
    """Every live child group of a run, so an interrupt can kill them all."""

    def __init__(self) -> None:
        self._groups: dict[int, KillReason | None] = {}  # pgid -> why it was killed
        self._before = frozenset(children_of(os.getpid()))  # not the run's: left alone

    def add(self, pgid: int) -> None:
        self._groups[pgid] = None

    @property
    def leaders(self) -> frozenset[int]:
        """The pids the run started itself (each leads its group)."""
        return frozenset(self._groups)

    def discard(self, pgid: int) -> KillReason | None:
        return self._groups.pop(pgid, None)

    def kill(self, pgid: int, reason: KillReason) -> None:
        if pgid in self._groups and self._groups[pgid] is None:
            self._groups[pgid] = reason
        kill_group(pgid)

    def kill_all(self, reason: KillReason) -> None:
        for pgid in list(self._groups):
            self.kill(pgid, reason)

    async def end_orphans(self) -> int:
        """Kill and reap what the run's processes left behind outside their groups (see
        descendants.py); how many were running."""
        return await end_orphans(self._before | self.leaders)


class LineSplitter:
    """A stream's chunks cut into lines (without their newlines): a line longer than a
    chunk is joined once, when its end arrives, not copied again with every chunk."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines this chunk ends."""
        if b"\n" not in chunk:
            self._parts.append(chunk)
            return []
        *complete, tail = b"".join([*self._parts, chunk]).split(b"\n")
        self._parts = [tail] if tail else []
        return complete

    def rest(self) -> bytes:
        """An unended last line, once the stream is over."""
        return b"".join(self._parts)


async def read_lines(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Every line of the stream as it comes (without its newline), then an unended tail.

    Read in chunks rather than with readline, which fails on a line over its limit."""
    lines = LineSplitter()
    while chunk := await reader.read(CHUNK):
        for line in lines.feed(chunk):
            yield line
    if tail := lines.rest():
        yield tail


async def _pump(
    reader: asyncio.StreamReader, stream: Stream, on_line: Callable[[Stream, str], None]
) -> None:
    async for raw in read_lines(reader):
        on_line(stream, raw.rstrip(b"\r").decode("utf-8", errors="replace"))


HELD_POLL = 0.05


class _ChildProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol, plus a future set when the child itself exits: `wait()` also
    waits for its pipes, which a background grandchild may hold for as long as it lives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=CHUNK, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


def _pipe_inodes(transport: asyncio.SubprocessTransport) -> set[int]:
    inodes = set()
    for fd in (1, 2):
        pipe = transport.get_pipe_transport(fd)
        stream = pipe.get_extra_info("pipe") if pipe is not None else None
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):  # closed: at its end already
                inodes.add(os.fstat(stream.fileno()).st_ino)
    return inodes


async def _wait_within(
    exited: asyncio.Future[None], timeout: float, held: Callable[[], float]
) -> bool:
    """Wait for the child to exit within `timeout` seconds not spent held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout - held()
    while (remaining := deadline + held() - loop.time()) > 0:
        # While decisions are held the deadline moves as fast as the clock: look
        # again now and then, not in a tight loop.
        done, _ = await asyncio.wait({exited}, timeout=max(remaining, HELD_POLL))
        if done:
            return True
    return False


async def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout: float,
    groups: ProcessGroups,
    on_start: Callable[[int], None] = lambda pid: None,
    on_line: Callable[[Stream, str], None] = lambda stream, line: None,
    held: Callable[[], float] = lambda: 0.0,
) -> ChildResult:
    """Run one child to completion (or its timeout); every line goes to `on_line` as it comes.

    The child's exit is its end: what it left running in its process group is killed then
    (counted in `leftovers`), its output read for a moment more. `held` tells how many
    seconds the child's scheduling decisions have been held by a face stepping through
    them; the timeout does not count those."""
    loop = asyncio.get_running_loop()
    protocol: _ChildProtocol | None = None

    def make_protocol() -> _ChildProtocol:
        nonlocal protocol
        protocol = _ChildProtocol(loop)
        return protocol

    try:
        transport, _ = await loop.subprocess_exec(
            make_protocol, *argv, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=dict(env), cwd=cwd, start_new_session=True,
        )
    except OSError as exc:  # not found, not executable, a bad cwd: nothing was started
        raise CannotStart(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    assert protocol is not None and protocol.stdout is not None and protocol.stderr is not None
    pgid = pid = transport.get_pid()  # start_new_session: the child leads its own group
    groups.add(pgid)
    result = ChildResult(pid=pid, returncode=None, killed=None)

    def collect(stream: Stream, line: str) -> None:
        result.lines.append((stream, line))
        on_line(stream, line)

    reading: asyncio.Future[tuple[None, None]] | None = None
    try:
        on_start(pid)
        reading = asyncio.gather(_pump(protocol.stdout, "stdout", collect),
                                 _pump(protocol.stderr, "stderr", collect))
        if not await _wait_within(protocol.exited, timeout, held):
            groups.kill(pgid, "timeout")
            await protocol.exited
        # Its last lines are in the pipes; a background process holding them open is not
        # waited for beyond this: it is a leftover, killed with the group, and what it
        # wrote until then is read.
        await asyncio.wait({reading}, timeout=DRAIN)
        result.leftovers = len(live_members(pgid))
        if result.leftovers:
            kill_group(pgid)  # not the child's end: it had exited
        # All of its output is read, however slow the loop, unless a process that left
        # the group (setsid) holds the pipes: the block's end ends that one.
        pipes = _pipe_inodes(transport)
        while not (await asyncio.wait({reading}, timeout=DRAIN))[0]:
            if holds_pipes(pipes):
                break
    finally:
        try:
            if transport.get_returncode() is None:  # cancelled (interrupt): end it all
                groups.kill(pgid, "interrupt")
                await asyncio.shield(protocol.exited)
        finally:
            kill_group(pgid)  # whatever the leader did, its group must not outlive it
            result.returncode = transport.get_returncode()
            result.killed = groups.discard(pgid)
            if reading is not None and not reading.done():
                reading.cancel()  # a process that left the group (setsid) holds the pipes
            transport.close()
    return result
