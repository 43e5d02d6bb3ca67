"""A runner that replays the sample run through a real RunControl, one gate per iteration.

Like the real one (`explorer.serve.RunnerProcess`), it runs on the app's loop.

Each iteration stops halfway (as if a child were still running) until the test
opens its gate, so a test decides exactly when an iteration may finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from explorer.control import RunControl
from explorer.events import Event, IterationStarted, RunFinished, RunStarted
from tests.tui.sample_run import sample_events


class FakeRunner:
    def __init__(self, control: RunControl) -> None:
        self.control = control
        self.consumers: list[Callable[[Event], None]] = []
        self.started: list[int] = []
        self.parked = False  # halfway through an iteration, waiting for the gate
        self.waiting_for_control = False
        self.interrupted = False
        self._gate: asyncio.Event | None = None
        events = sample_events()
        self.run_started = events[0]
        assert isinstance(self.run_started, RunStarted)
        self.blocks: dict[int, list[Event]] = {}
        for event in events[1:-1]:
            if isinstance(event, IterationStarted):
                self.blocks[event.iteration] = []
            self.blocks[max(self.blocks)].append(event)

    def subscribe(self, consumer: Callable[[Event], None]) -> None:
        self.consumers.append(consumer)

    def emit(self, events: list[Event]) -> None:
        for event in events:
            for consumer in self.consumers:
                consumer(event)

    def open_gate(self) -> None:
        assert self._gate is not None
        self._gate.set()

    def interrupt(self) -> None:
        self.interrupted = True
        self.control.stop()
        if self._gate is not None:
            self._gate.set()

    async def run(self) -> RunFinished:
        self._gate = asyncio.Event()
        self.emit([self.run_started, *self.blocks[0]])
        for n in (1, 2, 3):
            self.waiting_for_control = True
            go = await self.control.next_iteration()
            self.waiting_for_control = False
            if not go or self.interrupted:
                break
            self.started.append(n)
            events = self.blocks[n]
            self.emit(events[: len(events) // 2])
            self.parked = True
            await self._gate.wait()
            self._gate.clear()
            self.parked = False
            if self.interrupted:
                break
            self.emit(events[len(events) // 2 :])
        else:
            self.emit(self.blocks[4])
        last_t = self.blocks[max(self.blocks)][-1].t
        finished = RunFinished(
            t=last_t + 0.01,
            iterations=len(self.started),
            counts={"tolerated": 1, "healed": 0, "persistent": 1},
            exit_code=130 if self.interrupted else 1,
            interrupted=self.interrupted,
        )
        self.emit([finished])
        return finished
