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


class Terminal:
    """The real console script in a tmux session of its own; the environment marker
    finds every process it started."""

    def __init__(self, tmp_path: Path, iterations: int) -> None:
        self.marker = f"RACE_EXPLORER_E2E={uuid.uuid4().hex}"
        self.exit_file = tmp_path / "exit"
        self.trace = tmp_path / "run.jsonl"
        self.tmux = ["tmux", "-L", f"race-e2e-{uuid.uuid4().hex[:8]}"]
        command = (
            f"cd {ROOT} && env {self.marker} PYTHONPATH={ROOT} {sys.executable} -m explorer "
            f"--iterations {iterations} --trace {self.trace} --work-dir {tmp_path / 'work'}; "
            f"echo $? > {self.exit_file}"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", "e2e", "-x", "150", "-y", "44", command],
            check=True,
            env=env,
            timeout=30,
        )

    def screen(self) -> str:
        done = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", "e2e"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout

    def press(self, key: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "e2e", key], check=True, timeout=30)

    def close(self) -> None:
        """Kill the tmux server: the terminal goes away, the app gets SIGHUP."""
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, timeout=30)

    def processes(self) -> list[int]:
        return processes_with(self.marker)


def test_the_console_app_shows_four_panes_and_quits_cleanly(tmp_path: Path) -> None:
    terminal = Terminal(tmp_path, iterations=200)
    try:
        labels = (
            "#0 pull @stress/alpha",
            "#1 pull @stress/beta",
            "#2 rm @stress/alpha",
            "#3 update",
        )

        def four_panes_with_output() -> bool:
            text = terminal.screen()
            return (
                all(label in text for label in labels)
                and text.count("$ python -m lifecycle") >= 4
                and text.count("■ exit") >= 4
                and "race-explorer" in text
                and "lockfile_parses" in text
            )

        # One screen holds all of it: the header, the invariant rows and four panes.
        wait_for(four_panes_with_output, "four panes with output, header and invariants",
                 timeout=120)
        assert terminal.processes(), "the app should be running"
        terminal.press("q")
        wait_for(terminal.exit_file.exists, "the app to exit", timeout=60)
        assert terminal.exit_file.read_text().strip() == "130"  # interrupted by the user
        wait_for(lambda: not terminal.processes(), "no process left", timeout=30)
        assert 'interrupted":true' in terminal.trace.read_text().replace(" ", "")
    finally:
        terminal.close()


@pytest.mark.parametrize("when", ["while it runs", "after the run"])
def test_the_app_leaves_with_its_children_when_the_terminal_goes_away(
    tmp_path: Path, when: str
) -> None:
    terminal = Terminal(tmp_path, iterations=200 if when == "while it runs" else 1)
    try:
        if when == "while it runs":
            wait_for(lambda: "■ exit" in terminal.screen(), "a child to finish", timeout=120)
        else:
            wait_for(lambda: "Run over" in terminal.screen(), "the end of the run", timeout=120)
        assert terminal.processes(), "the app should still be open"
    finally:
        terminal.close()
    wait_for(lambda: not terminal.processes(), "no process left", timeout=60)
    text = terminal.trace.read_text()
    assert '"kind":"run_finished"' in text.replace(" ", "")
