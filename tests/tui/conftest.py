from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.tui.sample_run import write_trace

SIZE = (150, 44)


@pytest.fixture
def sample_trace(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "run.jsonl")


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    """Let the app process messages until `condition` holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
