"""Launching under the filter: what is held, what passes, and what happens when things fail."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
from pathlib import Path

from explorer.intercept.availability import availability
from explorer.intercept.options import GROUPS, SyscallOptions

from .driver import HERE, WAIT, Driver

ROOT_DIR = Path(__file__).resolve().parents[2]


def test_syscall_checkpoints_are_available_here() -> None:
    assert availability() is None


async def test_calls_outside_the_roots_run_at_once(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    code = (
        "import os, fcntl\n"
        f"with open({str(elsewhere / 'out')!r}, 'w') as out:\n"
        "    fcntl.flock(out, fcntl.LOCK_EX)\n"
        "    for line in range(50): out.write(f'{line}\\n'); out.flush()\n"
        "    os.fsync(out.fileno())\n"
        f"os.rename({str(elsewhere / 'out')!r}, {str(elsewhere / 'moved')!r})\n"
        "with open('inside', 'w') as out: out.write('x')\n"
    )
    # Every group but reads: `python -c` opens its working directory to import from it.
    groups = [group for group in GROUPS if group != "reads"]
    async with Driver(SyscallOptions.under([root], groups)) as driver:
        process = await driver.spawn(1, [sys.executable, "-c", code], cwd=root)
        await driver.settled([1])
        # Everything outside ran before the first held call, with nothing released.
        assert driver.names(1) == ["open:inside"]
        assert (elsewhere / "moved").read_text().count("\n") == 50
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    assert driver.names(1) == ["open:inside", "write:inside"]
    counts = driver.supervisor.counts[1]
    assert counts.held == len(driver.names(1))
    assert counts.passed >= 50 + 3  # the writes, lock, fsync and rename elsewhere at least
    assert driver.activity[1] == counts.held + counts.passed


async def test_a_missing_command_says_so_and_exits_127(tmp_path: Path) -> None:
    async with Driver(SyscallOptions.under([tmp_path])) as driver:
        process = await driver.spawn(
            1, ["no-such-command-race-explorer"], cwd=tmp_path, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
        assert process.returncode == 127
        assert stderr.decode() == "command not found: no-such-command-race-explorer\n"
        await driver.until(lambda: 1 in driver.gone, "the child's listener to hang up")
    assert driver.arrivals == []


async def test_killing_the_supervisor_kills_its_held_child(tmp_path: Path) -> None:
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "supervise_one.py"), str(tmp_path),
        stdout=asyncio.subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT_DIR)),
    )
    assert supervisor.stdout is not None
    line = await asyncio.wait_for(supervisor.stdout.readline(), WAIT)
    child_pid = int(line)
    child_exited = asyncio.Event()
    pidfd = os.pidfd_open(child_pid)
    loop = asyncio.get_running_loop()
    loop.add_reader(pidfd, child_exited.set)
    try:
        assert select.select([pidfd], [], [], 0)[0] == []  # held, alive
        supervisor.send_signal(signal.SIGKILL)
        await supervisor.wait()
        await asyncio.wait_for(child_exited.wait(), WAIT)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


FAMILIES_CODE = """
import fcntl, os
fd = os.open("data", os.O_WRONLY | os.O_CREAT)
os.write(fd, b"abc")
os.pwrite(fd, b"x", 0)
fcntl.lockf(fd, fcntl.LOCK_EX)
fcntl.fcntl(fd, fcntl.F_GETFL)
os.fsync(fd)
os.fdatasync(fd)
fcntl.lockf(fd, fcntl.LOCK_UN)
fcntl.flock(fd, fcntl.LOCK_SH)
os.ftruncate(fd, 1)
os.close(fd)
os.truncate("data", 0)
os.mkdir("dir")
os.symlink("data", "dir/link")
os.link("data", "dir/hard")
os.replace("dir/hard", "moved")
os.unlink("dir/link")
os.rmdir("dir")
"""


async def test_each_call_is_named_after_its_family_and_path(tmp_path: Path) -> None:
    groups = [group for group in GROUPS if group != "reads"]
    async with Driver(SyscallOptions.under([tmp_path], groups)) as driver:
        process = await driver.spawn(1, [sys.executable, "-c", FAMILIES_CODE], cwd=tmp_path)
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    assert driver.names(1) == [
        "open:data", "write:data", "write:data", "lock:data", "fsync:data", "fdatasync:data",
        "unlock:data", "lock:data", "truncate:data", "truncate:data", "mkdir:dir",
        "symlink:dir/link", "link:dir/hard", "rename:moved", "unlink:dir/link", "rmdir:dir",
    ]
    rename = driver.arrivals[-3]
    assert (rename.path, rename.other_path) == (str(tmp_path / "moved"), str(tmp_path / "dir/hard"))
