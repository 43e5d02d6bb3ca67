"""Running one child of a block and reporting it: started, each line, how it ended.

What the judge needs later (its lines, exit code, a kill, a timeout) goes on
the block; what a face shows goes on the event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from explorer.block import Block
from explorer.children import CannotStart, ChildResult, ProcessGroups, run_child
from explorer.events import ChildExited, ChildOutput, ChildSpec, ChildStarted, Event, Stream
from explorer.expansion import Expansion
from explorer.request import RunError
from explorer.scenario import Command
from explorer.scheduling.base import Scheduler


class Launcher:
    def __init__(
        self,
        expansion: Expansion,
        repo: Path,
        groups: ProcessGroups,
        emit: Callable[[Event], None],
        now: Callable[[], float],
        held: Callable[[], float],  # seconds the face held the run: not counted in timeouts
    ) -> None:
        self.expansion = expansion
        self.repo = repo
        self.groups = groups
        self.emit = emit
        self.now = now
        self.held = held

    def kill(self, block: Block, child: int) -> None:
        """A kill fault: SIGKILL the child's whole process group."""
        pgid = block.pgids.get(child)
        if pgid is not None:
            self.groups.kill(pgid, "fault")

    async def run(
        self, block: Block, spec: ChildSpec, scheduler: Scheduler, command: Command
    ) -> ChildResult:
        iteration = block.iteration
        env = {**self.expansion.env, **scheduler.child_env(spec.child)}
        timeout = command.timeout or self.expansion.scenario.timeout

        def started(pid: int) -> None:
            block.pgids[spec.child] = pid
            block.began(spec.child, self.now())
            self.emit(ChildStarted(t=self.now(), iteration=iteration, child=spec.child,
                                   label=spec.label, argv=spec.argv, pid=pid))
            scheduler.child_started(spec.child, pid)

        def line(stream: Stream, text: str) -> None:
            block.add_line(spec.child, text, stream)
            self.emit(ChildOutput(t=self.now(), iteration=iteration, child=spec.child,
                                  stream=stream, line=text))

        try:
            argv = scheduler.child_argv(spec.child, spec.argv)
            result = await run_child(argv, env=env, cwd=str(self.repo), timeout=timeout,
                                     groups=self.groups, on_start=started, on_line=line,
                                     held=self.held)
        except CannotStart as exc:
            raise RunError(f"child {spec.child} '{spec.label}' of block {iteration}: "
                           f"{exc}") from exc
        finally:
            scheduler.child_exited(spec.child)
        block.exited(spec.child, result.returncode, result.killed, self.now())
        if result.killed == "fault":
            block.fault_killed.append(spec.argv)
        if result.killed == "timeout":
            block.timed_out.append(f"child {spec.child} ({spec.label}) was still running after "
                                   f"{timeout:g} s and was killed with its process group")
        self.emit(ChildExited(t=self.now(), iteration=iteration, child=spec.child,
                              returncode=result.returncode, killed=result.killed,
                              leftovers=result.leftovers))
        return result
