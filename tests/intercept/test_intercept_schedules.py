"""Unmodified programs held at their file-system calls and run in a chosen order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from explorer.intercept.options import SyscallOptions

from .driver import Driver, script

RMW_NAMES = {
    child: ["open:state.json", f"open:state.json.{child}.tmp", "rename:state.json"]
    for child in (1, 2)
}
# Each character is one step: release that child's held call and wait for its next.
LOSES_THE_UPDATE = "121122"  # both read before either renames
KEEPS_THE_UPDATE = "111222"  # the second reads after the first renamed


async def read_modify_write(root: Path, schedule: str) -> tuple[int, Driver]:
    (root / "state.json").write_text(json.dumps({"n": 0}))
    async with Driver(SyscallOptions.under([root])) as driver:
        for child in (1, 2):
            await driver.spawn(child, script("rmw.py", str(child)), cwd=root)
        for step in schedule:
            await driver.step(int(step))
        await driver.settled([1, 2])
        assert driver.gone == {1, 2}
        for process in driver.processes.values():
            assert await process.wait() == 0
    return json.loads((root / "state.json").read_text())["n"], driver


@pytest.mark.parametrize(
    ("schedule", "final"), [(LOSES_THE_UPDATE, 1), (KEEPS_THE_UPDATE, 2)]
)
async def test_a_schedule_decides_whether_the_update_is_lost(
    tmp_path: Path, schedule: str, final: int
) -> None:
    n, driver = await read_modify_write(tmp_path, schedule)
    assert n == final
    for child in (1, 2):
        assert driver.names(child) == RMW_NAMES[child]
    rename = driver.arrivals[-1]
    assert rename.call == "rename" and rename.path == str(tmp_path / "state.json")
    assert rename.other_path == str(tmp_path / f"state.json.{rename.child}.tmp")
    assert rename.tid == driver.processes[rename.child].pid == driver.supervisor.pid(rename.child)


async def test_the_losing_schedule_loses_the_update_every_time(tmp_path: Path) -> None:
    finals = []
    for attempt in range(20):
        root = tmp_path / str(attempt)
        root.mkdir()
        n, driver = await read_modify_write(root, LOSES_THE_UPDATE)
        finals.append(n)
        assert driver.names(1) == RMW_NAMES[1] and driver.names(2) == RMW_NAMES[2]
    assert finals == [1] * 20


async def test_a_multithreaded_child_and_a_spawning_child_run_to_the_end(
    tmp_path: Path,
) -> None:
    spawner = (
        "import subprocess\n"
        "open('spawn-before', 'w').close()\n"
        "subprocess.run(['sh', '-c', 'touch spawn-child && mv spawn-child spawn-moved'],"
        " check=True)\n"
        "open('spawn-after', 'w').close()\n"
    )
    async with Driver(SyscallOptions.under([tmp_path], ["paths"])) as driver:
        threaded = await driver.spawn(1, script("threads.py", "t", "4", "5"), cwd=tmp_path)
        spawning = await driver.spawn(2, [sys.executable, "-c", spawner], cwd=tmp_path)
        await driver.run_in_turns([1, 2])
        assert await threaded.wait() == 0 and await spawning.wait() == 0

    assert driver.double_parked == []  # a parked child's other calls waited their turn
    threaded_names = driver.names(1)
    assert sorted(threaded_names) == sorted(
        f"{call}:t-{t}-{r}{suffix}"
        for t in range(4) for r in range(5)
        for call, suffix in (("open", ""), ("rename", ".done"))
    )
    assert len({a.tid for a in driver.arrivals if a.child == 1}) > 1
    assert len(list(tmp_path.glob("t-*.done"))) == 20

    assert driver.names(2) == [
        "open:spawn-before", "open:spawn-child", "rename:spawn-moved", "open:spawn-after",
    ]
    spawned = [a for a in driver.arrivals if a.child == 2 and "spawn-" in a.path]
    child_pid = spawning.pid
    assert spawned[0].tid == child_pid and spawned[3].tid == child_pid
    assert spawned[1].tid != child_pid and spawned[2].tid != child_pid  # touch and mv
    assert (tmp_path / "spawn-moved").exists() and (tmp_path / "spawn-after").exists()
