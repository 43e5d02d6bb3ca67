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

from explorer.events import KillReason, Stream

CHUNK = 65536
READER_GRACE = 5.0  # seconds to drain pipes after the child is gone


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


class ProcessGroups:
    """Every live child group of a run, so an interrupt can kill them all."""

    def __init__(self) -> None:
        self._groups: dict[int, KillReason | None] = {}  # pgid -> why it was killed

    def add(self, pgid: int) -> None:
        self._groups[pgid] = None

    def discard(self, pgid: int) -> KillReason | None:
        return self._groups.pop(pgid, None)

    def kill(self, pgid: int, reason: KillReason) -> None:
        if pgid in self._groups and self._groups[pgid] is None:
            self._groups[pgid] = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def kill_all(self, reason: KillReason) -> None:
        for pgid in list(self._groups):
            self.kill(pgid, reason)


async def read_lines(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Every line of the stream as it comes (without its newline), then an unended tail.

    Read in chunks rather than with readline, which fails on a line over its limit; a
    line longer than a chunk is joined once, when its end arrives."""
    parts: list[bytes] = []
    while chunk := await reader.read(CHUNK):
        if b"\n" not in chunk:
            parts.append(chunk)
            continue
        *complete, tail = b"".join([*parts, chunk]).split(b"\n")
        parts = [tail] if tail else []
        for line in complete:
            yield line
    if parts:
        yield b"".join(parts)


async def _pump(
    reader: asyncio.StreamReader, stream: Stream, on_line: Callable[[Stream, str], None]
) -> None:
    async for raw in read_lines(reader):
        on_line(stream, raw.rstrip(b"\r").decode("utf-8", errors="replace"))


HELD_POLL = 0.05


async def _wait_within(
    proc: asyncio.subprocess.Process, timeout: float, held: Callable[[], float]
) -> bool:
    """Wait for the process to exit within `timeout` seconds not spent held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout - held()
    exited = asyncio.ensure_future(proc.wait())
    try:
        while (remaining := deadline + held() - loop.time()) > 0:
            # While decisions are held the deadline moves as fast as the clock: look
            # again now and then, not in a tight loop.
            done, _ = await asyncio.wait({exited}, timeout=max(remaining, HELD_POLL))
            if done:
                return True
        return False
    finally:
        exited.cancel()


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

    `held` tells how many seconds the child's scheduling decisions have been held by a
    face stepping through them; the timeout does not count those."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:  # not found, not executable, a bad cwd: nothing was started
        raise CannotStart(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    pgid = proc.pid  # start_new_session: the child leads its own group
    groups.add(pgid)
    result = ChildResult(pid=proc.pid, returncode=None, killed=None)

    def collect(stream: Stream, line: str) -> None:
        result.lines.append((stream, line))
        on_line(stream, line)

    assert proc.stdout is not None and proc.stderr is not None
    pumps: asyncio.Future[tuple[None, None]] | None = None
    try:
        on_start(proc.pid)
        pumps = reading = asyncio.gather(_pump(proc.stdout, "stdout", collect),
                                         _pump(proc.stderr, "stderr", collect))
        if not await _wait_within(proc, timeout, held):
            groups.kill(pgid, "timeout")
            await proc.wait()
        # A grandchild that escaped the group could hold the pipes open forever.
        try:
            await asyncio.wait_for(reading, READER_GRACE)
        except TimeoutError:
            reading.cancel()
        result.returncode = proc.returncode
    finally:
        if proc.returncode is None:  # cancelled (interrupt): leave nothing behind
            groups.kill(pgid, "interrupt")
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
            result.returncode = proc.returncode
        # Whatever the leader did, its group must not outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        result.killed = groups.discard(pgid)
        if pumps is not None and not pumps.done():
            pumps.cancel()
    return result
