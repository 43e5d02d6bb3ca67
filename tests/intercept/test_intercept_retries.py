"""Which held calls are taken for a spin wait (the hook's `yield`): a thread making the same
attempt again at a call that waits, and not a thread making two different calls on one file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from explorer.intercept.options import SyscallOptions

from .driver import Driver, script


async def run_alone(root: Path, mode: str) -> Driver:
    async with Driver(SyscallOptions.under([root])) as driver:
        process = await driver.spawn(1, script("retrier.py", mode), cwd=root)
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    return driver


async def test_two_locks_on_different_ranges_of_one_file_are_no_retry(tmp_path: Path) -> None:
    driver = await run_alone(tmp_path, "ranges")
    assert driver.names(1) == ["open:data", "lock:data", "lock:data"]
    assert [a.is_yield for a in driver.arrivals] == [False, False, False]


async def test_a_file_opened_twice_is_no_retry(tmp_path: Path) -> None:
    driver = await run_alone(tmp_path, "reopen")
    assert driver.names(1) == ["open:data"] * 4
    assert [a.is_yield for a in driver.arrivals] == [False] * 4


HOLD_BYTE_0 = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
               "fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)\nprint('held', flush=True)\n"
               "sys.stdin.read()\n")


def lock_byte_0(root: Path) -> Callable[[], None]:
    """Another process holds byte 0 of `data` (as another child would) until released."""
    (root / "data").write_bytes(b"xx")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_BYTE_0, str(root / "data")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"

    def release() -> None:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)

    return release


def make(path: Path, *, as_dir: bool) -> Callable[[], None]:
    if as_dir:
        path.mkdir()
        return path.rmdir
    path.touch()
    return path.unlink


def appear_later(path: Path) -> Callable[[], None]:
    return path.touch


# mode: (the name it retries at, calls held before it, what holds it back: returns its release)
WAITS: dict[str, tuple[str, list[str], Callable[[Path], Callable[[], None]]]] = {
    "setlk": ("lock:data", ["open:data"], lock_byte_0),
    "excl": ("open:lock", [], lambda root: make(root / "lock", as_dir=False)),
    "mkdir": ("mkdir:lock.d", [], lambda root: make(root / "lock.d", as_dir=True)),
    "poll": ("open:ready", [], lambda root: appear_later(root / "ready")),
}


@pytest.mark.parametrize("mode", list(WAITS))
async def test_a_thread_trying_again_what_another_holds_is_a_retry(
    tmp_path: Path, mode: str
) -> None:
    name, before, hold = WAITS[mode]
    release = hold(tmp_path)
    async with Driver(SyscallOptions.under([tmp_path])) as driver:
        process = await driver.spawn(1, script("retrier.py", mode), cwd=tmp_path)
        while len(driver.names(1)) < len(before) + 3:  # the first try and two retries
            await driver.step(1)
        release()
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    assert driver.names(1) == [*before, name, name, name]
    # A record lock another process holds is a wait from the first try (the kernel says so);
    # the others are known for waits once tried again.
    first = mode == "setlk"
    assert [a.is_yield for a in driver.arrivals] == [False] * len(before) + [first, True, True]


async def test_a_look_at_the_lock_between_tries_does_not_hide_the_retry(tmp_path: Path) -> None:
    """The reference CLI's lock: an O_EXCL create, and when it fails a read of the lock file
    (is its owner alive?) before the next try. Taken for work, not a wait, the spinner is run
    first by PCT while the holder is parked, and runs out of tries: a false break."""
    release = make(tmp_path / "lock", as_dir=False)
    async with Driver(SyscallOptions.under([tmp_path])) as driver:
        process = await driver.spawn(1, script("retrier.py", "excl-look"), cwd=tmp_path)
        while len(driver.names(1)) < 5:  # try, look, try, look, try
            await driver.step(1)
        release()
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    assert driver.names(1)[:5] == ["open:lock"] * 5
    assert [a.is_yield for a in driver.arrivals][:5] == [False, False, True, False, True]


async def test_a_record_lock_another_process_holds_is_a_wait_at_once(tmp_path: Path) -> None:
    """SQLite's busy loop never tries one lock twice in a row (PENDING, then SHARED fails, then
    PENDING is dropped, a sleep, round again); asking the kernel whether the range is held
    elsewhere sees it wait, and a free range or the thread's own lock is no wait."""
    release = lock_byte_0(tmp_path)
    async with Driver(SyscallOptions.under([tmp_path])) as driver:
        process = await driver.spawn(1, script("retrier.py", "busy"), cwd=tmp_path)
        while len(driver.names(1)) < 5:  # open, free byte 1, held byte 0, drop 1, free 1 again
            await driver.step(1)
        release()
        await driver.run_in_turns([1])
        assert await process.wait() == 0
    names = driver.names(1)
    yields = [a.is_yield for a in driver.arrivals]
    assert names[:5] == ["open:data", "lock:data", "lock:data", "unlock:data", "lock:data"]
    assert yields[:5] == [False, False, True, False, False]
