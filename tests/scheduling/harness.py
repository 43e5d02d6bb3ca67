"""Run toy children under one block's scheduler, the way the runner does."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from explorer.events import Event, ScheduleDecision
from explorer.scheduling.base import Scheduler, SchedulerContext

HERE = Path(__file__).parent
FIXTURES = HERE.parents[1] / "fixtures"


@dataclass
class BlockResult:
    log: list[str]
    events: list[Event] = field(default_factory=list)
    returncodes: dict[int, int | None] = field(default_factory=dict)
    pids: dict[int, int] = field(default_factory=dict)

    @property
    def decisions(self) -> list[ScheduleDecision]:
        return [e for e in self.events if isinstance(e, ScheduleDecision)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def run_block(
    scheduler: Scheduler, tmp: Path, children: list[list[str]], timeout: float = 60
) -> BlockResult:
    """children: one toy_child argument list (NAME STEPS [MODE]) per child."""
    log = tmp / "log"
    log.write_text("")
    result = BlockResult(log=[])
    procs: dict[int, asyncio.subprocess.Process] = {}
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    def kill(child: int) -> None:
        os.killpg(procs[child].pid, signal.SIGKILL)

    ctx = SchedulerContext(
        iteration=1,
        emit=result.events.append,
        now=lambda: loop.time() - t0,
        kill=kill,
        children=list(range(len(children))),
    )
    await scheduler.start(ctx)
    env = {**os.environ, "PYTHONPATH": str(FIXTURES)}
    for child, args in enumerate(children):
        procs[child] = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "toy_child.py"),
            str(log),
            *args,
            env={**env, **scheduler.child_env(child)},
            start_new_session=True,
        )
        result.pids[child] = procs[child].pid
        scheduler.child_started(child, procs[child].pid)

    async def reap(child: int) -> None:
        result.returncodes[child] = await procs[child].wait()
        scheduler.child_exited(child)

    try:
        await asyncio.wait_for(asyncio.gather(*(reap(c) for c in procs)), timeout)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)
        await scheduler.stop()
    result.log = log.read_text().split()
    return result
