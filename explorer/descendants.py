"""Processes the run's children leave behind, found through /proc and ended.

A child's process group catches a background job (`sleep 300 &`), not a
grandchild that left it with `setsid`. The runner makes itself a child
subreaper (PR_SET_CHILD_SUBREAPER), so such an orphan becomes its child instead
of init's; at each block's end every child of the runner it did not start
itself is killed, with its descendants, and reaped. Orphans are told apart from
the runner's own processes by their session: every child is started in a
session of its own, so a descendant of one is never in the runner's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections.abc import Collection, Iterator
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
REAP_WAIT = 2.0  # seconds for killed orphans to be gone
REAP_POLL = 0.01


def _prctl(option: int, arg: int | ctypes.c_int | ctypes._Pointer[ctypes.c_int]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, arg, 0, 0, 0))


@contextlib.contextmanager
def subreaper() -> Iterator[bool]:
    """This process adopts its descendants' orphans inside the block (True if it could);
    what it was before is restored after."""
    before = ctypes.c_int(0)
    if _prctl(PR_GET_CHILD_SUBREAPER, ctypes.pointer(before)) != 0:
        yield False
        return
    ok = _prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    try:
        yield ok
    finally:
        if ok and not before.value:
            _prctl(PR_SET_CHILD_SUBREAPER, 0)


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    """Its children now, across all its threads (a child belongs to the thread that
    forked it, or the one it was reparented to)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                found += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


def live_members(pgid: int) -> list[int]:
    """The processes of a group that are running (not zombies)."""
    try:
        os.killpg(pgid, 0)  # the usual case, an empty group, without reading /proc
    except (ProcessLookupError, PermissionError):
        return []
    members = []
    for entry in os.listdir("/proc"):
        fields = proc_stat(int(entry)) if entry.isdigit() else None
        # fields: state, ppid, pgrp, session, ...
        if fields is not None and int(fields[2]) == pgid and fields[0] not in "ZX":
            members.append(int(entry))
    return members


def holds_pipes(inodes: Collection[int]) -> bool:
    """Whether a process other than this one has one of these pipes open (a grandchild
    that left its group still writing, say). Reads every process's fds: for rare cases."""
    names = {f"pipe:[{inode}]" for inode in inodes}
    if not names:
        return False
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry == me:
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in names:
                        return True
    return False


def orphans(known: Collection[int]) -> list[int]:
    """The runner's children it did not start (`known`: those it did, and any it had
    before the run) from other sessions than its own, and all their descendants."""
    session = os.getsid(0)
    frontier = []
    for pid in children_of(os.getpid()):
        fields = proc_stat(pid)
        if pid not in known and fields is not None and int(fields[3]) != session:
            frontier.append(pid)
    found: list[int] = []
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += children_of(pid)
    return found


async def end_orphans(known: Collection[int]) -> int:
    """Kill every orphan and its descendants and reap those that are the runner's
    children; how many were still running."""
    found = orphans(known)
    running = 0
    for pid in found:
        fields = proc_stat(pid)
        if fields is not None and fields[0] not in "ZX":
            running += 1
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # Each killed one is reaped by its parent, or comes to the runner when the parent died
    # first: reap until none of them is left.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REAP_WAIT
    while (left := orphans(known)) and loop.time() < deadline:
        for pid in left:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        if orphans(known):
            await asyncio.sleep(REAP_POLL)
    return running
