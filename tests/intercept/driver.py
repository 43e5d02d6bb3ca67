"""Drives a `SyscallSupervisor` from a test the way the controlled scheduler will: one child
runs at a time, from one held call to its next (or its end)."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.intercept.options import SyscallOptions
from explorer.intercept.supervisor import SyscallArrival, SyscallSupervisor
from explorer.scheduling.server import Arrival

WAIT = 30.0  # generous: the machine is shared
HERE = Path(__file__).parent


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / name), *args]


class Driver:
    def __init__(self, options: SyscallOptions) -> None:
        self.supervisor = SyscallSupervisor(
            self._arrived, self._disconnected, self._active, options=options
        )
        self.parked: dict[int, SyscallArrival] = {}
        self.gone: set[int] = set()
        self.arrivals: list[SyscallArrival] = []
        self.activity: Counter[int] = Counter()
        self.double_parked: list[SyscallArrival] = []  # arrivals of a child already parked
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Driver:
        await self.supervisor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        await self.supervisor.close()

    def _arrived(self, arrival: Arrival) -> None:
        assert isinstance(arrival, SyscallArrival)
        if arrival.child in self.parked:
            self.double_parked.append(arrival)
        self.parked[arrival.child] = arrival
        self.arrivals.append(arrival)
        self._changed.set()

    def _disconnected(self, child: int) -> None:
        self.gone.add(child)
        self._changed.set()

    def _active(self, child: int) -> None:
        self.activity[child] += 1

    async def spawn(self, child: int, argv: Sequence[str], cwd: Path,
                    stderr: int | None = None) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self.supervisor.wrap(child, argv), cwd=cwd, stderr=stderr
        )
        self.processes[child] = process
        return process

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        async def waited() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(waited(), WAIT)
        except TimeoutError:
            raise AssertionError(f"waited {WAIT} s for {what}") from None

    async def settled(self, children: Sequence[int]) -> None:
        """Every child is parked or gone: nothing runs."""
        await self.until(
            lambda: all(c in self.parked or c in self.gone for c in children),
            f"children {list(children)} to park or end",
        )

    async def step(self, child: int) -> None:
        """Release the child's held call and wait until it parks again or ends."""
        await self.settled([child])
        assert child in self.parked, f"child {child} ended before its turn"
        del self.parked[child]
        self.supervisor.release(child)
        await self.settled([child])

    async def run_in_turns(self, children: Sequence[int]) -> None:
        """Release the children in turn, one at a time, until all are gone."""
        while True:
            await self.settled(children)
            waiting = [c for c in children if c in self.parked]
            if not waiting:
                return
            for child in waiting:
                await self.step(child)

    def names(self, child: int) -> list[str]:
        return [a.name for a in self.arrivals if a.child == child]
