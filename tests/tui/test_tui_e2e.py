"""End to end: the real command in a real terminal (tmux), live, then `q`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll `condition` until it holds; the wait between polls is an Event with a timeout."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.2)):
        if condition():
            return
        tick.wait(0.2)
    assert condition(), f"timed out waiting for {what}"


def processes_with(marker: str) -> list[int]:
    """Every live process whose environment carries `marker` (the app and its children)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_console_app_shows_four_panes_and_quits_cleanly(tmp_path: Path) -> None:
    marker = f"RACE_EXPLORER_E2E={uuid.uuid4().hex}"
    socket = f"race-e2e-{uuid.uuid4().hex[:8]}"
    exit_file = tmp_path / "exit"
    command = (
        f"cd {ROOT} && env {marker} PYTHONPATH={ROOT} {sys.executable} -m explorer "
        f"--iterations 200 --trace {tmp_path / 'run.jsonl'} --work-dir {tmp_path / 'work'}; "
        f"echo $? > {exit_file}"
    )
    tmux = ["tmux", "-L", socket]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "e2e", "-x", "150", "-y", "44", command],
        check=True,
        env=env,
        timeout=30,
    )

    def screen() -> str:
        done = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "e2e"], capture_output=True, text=True, timeout=30
        )
        return done.stdout

    try:
        labels = (
            "#0 pull @stress/alpha",
            "#1 pull @stress/beta",
            "#2 rm @stress/alpha",
            "#3 update",
        )

        def four_panes_with_output() -> bool:
            text = screen()
            return (
                all(label in text for label in labels)
                and text.count("$ python -m lifecycle") >= 4
                and text.count("■ exit") >= 4
            )

        wait_for(four_panes_with_output, "four panes with output", timeout=120)
        text = screen()
        assert "race-explorer" in text and "lockfile_parses" in text
        assert processes_with(marker), "the app should be running"
        subprocess.run([*tmux, "send-keys", "-t", "e2e", "q"], check=True, timeout=30)
        wait_for(exit_file.exists, "the app to exit", timeout=60)
        assert exit_file.read_text().strip() == "130"  # interrupted by the user
        wait_for(lambda: not processes_with(marker), "no process left", timeout=30)
        assert 'interrupted":true' in (tmp_path / "run.jsonl").read_text().replace(" ", "")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)
