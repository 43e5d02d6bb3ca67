"""SVG snapshots of the main screens, rendered from the sample trace.

Deterministic: a fixed terminal size, no clock on screen, no cursor blink.
Update after an intended change with `pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.history import Position
from tests.tui.conftest import wait_until
from tests.tui.sample_run import write_trace

SIZE = (150, 44)


@pytest.fixture
def app(tmp_path: Path) -> ExplorerApp:
    return load_replay(write_trace(tmp_path / "run.jsonl"))


async def _settled(pilot: Pilot[int]) -> None:
    """Wait until the state pane shows the shown block's state (it updates by message)."""
    app = pilot.app
    assert isinstance(app, ExplorerApp)
    app.main_screen.find_bar.cursor_blink = False

    def current() -> bool:
        block = app.main_screen.shown.block
        return block is not None and app.main_screen.state_pane.shown_version == block.state.version

    await wait_until(pilot, current, "the state pane")  # type: ignore[arg-type]


async def _first_break(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, ExplorerApp)
    await _settled(pilot)
    await app.main_screen.goto(Position(0, 0))
    await pilot.press("right_square_bracket")
    await _settled(pilot)


def test_run_end(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled)


def test_break_highlighted(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_first_break)


def test_stepping_in_an_iteration(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(
        app, terminal_size=SIZE, run_before=_first_break, press=["full_stop"] * 4 + ["comma"]
    )


def test_timeline(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_first_break, press=["t"])


def test_help(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled, press=["question_mark"])


async def _iteration_2_timeline(pilot: Pilot[int]) -> None:
    await _first_break(pilot)
    await pilot.press("greater_than_sign", "t", *["down"] * 18, "enter")


def test_timeline_grouped_and_expanded(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=(200, 55), run_before=_iteration_2_timeline)


def test_narrow_terminal_one_pane_and_a_strip(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=(100, 30), run_before=_first_break, press=["o"])


def test_wide_terminal(snap_compare, app: ExplorerApp) -> None:
    assert snap_compare(app, terminal_size=(200, 55), run_before=_first_break)


def test_why(snap_compare, tmp_path: Path) -> None:
    """The failing iteration's causal steps: `]` to where it diverged, then `w`."""
    from tests.tui.scheduled_run import write_scheduled

    app = load_replay(write_scheduled(tmp_path / "run.jsonl"))
    assert snap_compare(
        app, terminal_size=(200, 55), run_before=_settled,
        press=["less_than_sign", "right_square_bracket", "w"],
    )  # fmt: skip
