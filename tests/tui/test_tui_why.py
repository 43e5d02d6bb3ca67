"""Pilot tests of the "why" view: `w` (or the palette) on an iteration that broke."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.history import Position
from explorer.tui.main_screen import MainScreen
from explorer.tui.why_screen import WhyScreen
from tests.tui.conftest import run_from_palette, wait_until
from tests.tui.scheduled_run import write_scheduled, write_shrunk

SIZE = (200, 55)


def screen_text(app: ExplorerApp) -> str:
    """What the why view says: its title and its text, as a terminal of its width shows it."""
    console = Console(width=SIZE[0], record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for selector in ("#why-title", "#why-text"):
        console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


def step_row(text: str, child: str) -> str:
    rows = [line for line in text.splitlines() if f"  {child} " in line]
    assert len(rows) <= 1, rows
    return rows[0] if rows else ""


async def _press_why(app: ExplorerApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("w")
    await wait_until(pilot, lambda: isinstance(app.screen, WhyScreen), "the why view")


async def test_w_on_the_failing_iteration_shows_only_the_steps_on_what_broke(
    tmp_path: Path,
) -> None:
    app = load_replay(write_scheduled(tmp_path / "run.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        # As a person does: to the iteration's start, then `]` to where the state diverged.
        await pilot.press("less_than_sign", "right_square_bracket")
        await wait_until(pilot, lambda: main.position != app.history.end(), "the first break")
        assert main.position is not None and main.position.iteration == 1
        await _press_why(app, pilot)
        text = screen_text(app)
        assert "Why iteration 1 broke" in text and "its recorded schedule" in text
        assert "@stress/beta" in text.splitlines()[1]
        assert "catalog_matches_lockfile [persistent]" in text
        assert "children that touched @stress/beta: #0 pull @stress/alpha@1.0.0, " \
               "#1 pull @stress/beta" in text
        # The steps in order, each with its child, its calls (paths shortened), its change.
        beta = step_row(text, "#1 pull @stress/beta")
        assert beta.split()[0] == "2"
        assert "start → rename:…/models/upstream_extensions.json" in beta
        assert "lockfile no entry → 1.0.0 (1 files)" in beta
        alpha = step_row(text, "#0 pull @stress/alpha@1.0.0")
        assert alpha.split()[:2] == ["▶", "3"]  # the step after which it was broken
        assert "open:…/models/upstream_extensions.json → rename:…/models/upstream_extensions.json" \
            in alpha
        assert "lockfile 1.0.0 (1 files) → no entry" in alpha
        assert text.index(beta) < text.index(alpha)
        # #2 ran (it removed alpha) but never touched beta: not a causal step.
        assert step_row(text, "#2 rm @stress/alpha") == ""
        # The last consistent look and the first broken one, side by side, the change marked.
        assert "last consistent, after step 2" in text and "first broken, after step 3" in text
        lockfile = next(line for line in text.splitlines() if line.startswith("lockfile ≠"))
        assert lockfile.split()[2:] == ["1.0.0", "(1", "files)", "no", "entry"]
        assert any(line.split()[:3] == ["catalog", "1.0.0", "Indexed"]
                   for line in text.splitlines())  # unchanged: no mark
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


async def test_the_why_view_explains_the_shrunk_case_when_shrink_left_one(
    tmp_path: Path,
) -> None:
    trace = write_scheduled(tmp_path / "run.jsonl")
    write_shrunk(trace)
    app = load_replay(trace)
    async with app.run_test(size=SIZE) as pilot:
        await _press_why(app, pilot)
        text = screen_text(app)
        assert "its shrunk case, run.iteration-1.shrunk.jsonl" in text
        alpha = step_row(text, "#0 pull @stress/alpha@1.0.0")
        assert alpha.split()[:2] == ["▶", "2"]
        assert "start → rename:…/models/upstream_extensions.json" in alpha


async def test_the_palette_opens_the_why_view_and_w_closes_it(tmp_path: Path) -> None:
    app = load_replay(write_scheduled(tmp_path / "run.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await run_from_palette(pilot, "why", "Why did it break?")
        await wait_until(pilot, lambda: isinstance(app.screen, WhyScreen), "the why view")
        assert "@stress/beta" in screen_text(app)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


async def test_why_is_not_offered_for_an_iteration_that_did_not_break(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(1, app.history.last_index(1)))  # iteration 1: clean
        await pilot.press("w")
        await pilot.pause()
        assert app.screen is main
        assert "Why did it break?" not in [c.title for c in app.get_system_commands(main)]
        await pilot.press("n")  # iteration 2 failed: offered
        await wait_until(pilot, lambda: main.position is not None
                         and main.position.iteration == 2, "iteration 2")
        assert "Why did it break?" in [c.title for c in app.get_system_commands(main)]
