"""The scenario's services: processes started before the setup, whose first line is a URL.

Each runs in a process group of its own (killed with the run's children on an
interrupt), its pipes drained for as long as it lives (an undrained pipe fills
and blocks it mid-request), and it is stopped when the run's exit stack closes.
"""

from __future__ import annotations

import asyncio
import contextlib

from explorer.children import ProcessGroups
from explorer.expansion import inherited_env
from explorer.request import RunError
from explorer.scenario import Service
from explorer.scenario_values import expand

TAIL_LINES = 5  # of a service's output, quoted when it fails to start
FIRST_LINE_LIMIT = 65536  # bytes: a URL is far shorter


async def _first_line(reader: asyncio.StreamReader) -> bytes:
    """Up to the first newline; what came if the stream ended first. LimitOverrunError
    past the reader's limit, where `readline` would raise a bare ValueError."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial


async def start_service(
    service: Service,
    values: dict[str, str],
    groups: ProcessGroups,
    stack: contextlib.AsyncExitStack,
) -> str:
    """Start one service and return its URL; `stack` stops it. RunError: it exited or
    printed no URL within its start timeout."""
    env = inherited_env()
    env.update({k: expand(v, values) for k, v in service.env.items()})
    argv = [expand(part, values) for part in service.argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
            limit=FIRST_LINE_LIMIT,
        )
    except OSError as exc:  # not found, not executable: nothing was started
        raise RunError(f"service '{service.name}': cannot run {argv[0]}: "
                       f"{exc.strerror or exc}") from exc
    groups.add(proc.pid)
    tail: list[str] = []

    async def drain(reader: asyncio.StreamReader | None) -> None:
        while reader is not None and (chunk := await reader.read(65536)):
            tail.extend(chunk.decode("utf-8", "replace").splitlines()[-TAIL_LINES:])
            del tail[:-TAIL_LINES]

    async def stop() -> None:
        groups.kill(proc.pid, "interrupt")
        await groups.end_orphans()  # one that left its group could hold its pipes
        await proc.wait()
        groups.discard(proc.pid)
        for task in drains:
            task.cancel()

    drains: list[asyncio.Task[None]] = []
    stack.push_async_callback(stop)
    assert proc.stdout is not None
    first, overrun = b"", False
    try:
        first = await asyncio.wait_for(_first_line(proc.stdout), service.start_timeout)
    except TimeoutError:
        pass
    except asyncio.LimitOverrunError:
        overrun = True
    # Drained from now on, also when it failed: a full pipe would keep it from ending.
    drains = [asyncio.create_task(drain(proc.stdout)), asyncio.create_task(drain(proc.stderr))]
    if overrun:
        raise RunError(f"service {service.name} ({' '.join(argv)}) printed no newline in "
                       f"its first {FIRST_LINE_LIMIT // 1024} KiB: expected its URL alone on "
                       "its first line")
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
