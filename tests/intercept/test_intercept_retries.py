"""Which held calls are taken for a spin wait (the hook's `yield`): a thread making the same
attempt again at a call that waits, and not a thread making two different calls on one file."""

from __future__ import annotations

import fcntl
import os
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


def lock_byte_0(root: Path) -> Callable[[], None]:
    (root / "data").write_bytes(b"x")
    fd = os.open(root / "data", os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)  # this process holds it: the child's F_SETLK fails
    return lambda: os.close(fd)


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
    assert [a.is_yield for a in driver.arrivals] == [False] * len(before) + [False, True, True]
