"""The explorer's end of the checkpoint protocol: a Unix socket the children report to.

The protocol is plain text lines (see README, "The checkpoint protocol"):
the child sends `hello CHILD PID`, then `at NAME` or `yield NAME` at each
checkpoint and blocks until it reads `go`. Killing is done by signal, so the
protocol has no kill verb. This module only tracks who is parked where; the
decisions are made by `ControlledScheduler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.scheduling.checkpoints import Arrival, CheckpointMode, SourceHooks, SourceSettings

# Long enough for a step between two checkpoints on a loaded machine, short enough that
# a child waiting in SQLite's busy handler (1 s in the reference CLI) is declared blocked,
# and the holder of the lock it waits for runs, well before its timeout.
HOOK_GRACE = 0.3


class CheckpointServer:
    """The `hook` checkpoint source: accepts the children's connections and turns their
    lines into callbacks."""

    def __init__(
        self,
        on_arrival: Callable[[Arrival], None],
        on_disconnect: Callable[[int], None],
    ) -> None:
        self._on_arrival = on_arrival
        self._on_disconnect = on_disconnect
        self._dir = tempfile.mkdtemp(prefix="race-explorer-")
        self.path = str(Path(self._dir) / "checkpoints.sock")
        self._server: asyncio.base_events.Server | None = None
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._handle, path=self.path)

    def child_env(self, child: int) -> dict[str, str]:
        return {"RACE_EXPLORER_SOCKET": self.path, "RACE_EXPLORER_CHILD": str(child)}

    def wrap(self, child: int, argv: Sequence[str]) -> list[str]:
        """The child reports by itself: its command is run as it is."""
        return list(argv)

    def release(self, child: int) -> None:
        """Answer `go` to a parked child."""
        writer = self._writers.get(child)
        if writer is None or writer.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(b"go\n")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers.values()):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        child: int | None = None
        try:
            hello = (await reader.readline()).decode("utf-8", "replace").split()
            if len(hello) < 2 or hello[0] != "hello" or not hello[1].lstrip("-").isdigit():
                return
            child = int(hello[1])
            self._writers[child] = writer
            while line := await reader.readline():
                verb, _, name = line.decode("utf-8", "replace").strip().partition(" ")
                if verb in ("at", "yield") and name:
                    self._on_arrival(Arrival(child, name, verb == "yield"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if child is not None and self._writers.get(child) is writer:
                del self._writers[child]
                self._on_disconnect(child)
            writer.close()
            if task is not None:
                self._handlers.discard(task)


def _hook_source(hooks: SourceHooks, settings: SourceSettings) -> CheckpointServer:
    return CheckpointServer(hooks.on_arrival, hooks.on_disconnect)


HOOK = CheckpointMode("hook", _hook_source, grace=HOOK_GRACE, start_grace=10.0,
                      first_guess_steps=30)
