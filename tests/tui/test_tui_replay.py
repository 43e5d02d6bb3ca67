"""Pilot tests of the app on a recorded trace: what the widgets show after keys."""

from __future__ import annotations

from pathlib import Path

from explorer.events import StateSnapshot
from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.help_screen import HelpScreen
from explorer.tui.history import Position
from explorer.tui.invariant_panel import InvariantRow
from explorer.tui.timeline import TimelineScreen
from tests.tui.conftest import SIZE, run_from_palette, wait_until


def rows(app: ExplorerApp) -> dict[str, InvariantRow]:
    return app.main_screen.invariant_panel.rows()


def row_text(row: InvariantRow) -> str:
    return str(row.render())


async def test_a_break_turns_its_row_red_with_the_message(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(0, 0))
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert main.position is not None and main.position.iteration == 2
        broken = rows(app)["lockfile_parses"]
        assert broken.has_class("-broken")
        assert "not valid JSON" in row_text(broken)
        assert broken.styles.background.r > broken.styles.background.g  # red, not green
        assert rows(app)["catalog_matches_lockfile"].has_class("-pending")  # not checked yet
        await pilot.press("full_stop")
        await pilot.pause()
        flux = rows(app)["catalog_matches_lockfile"]
        assert flux.has_class("-in-flux") and not flux.has_class("-broken")
        assert not rows(app)["files_match_lockfile"].has_class("-broken")
        # The next break is the classified one at quiescence, still in iteration 2.
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert rows(app)["lockfile_parses"].has_class("-broken")
        await pilot.press("right_square_bracket")  # the verdict is one more press
        await pilot.pause()
        assert "iteration_finished" in str(main.header.render())
        # Iteration 3: first where the state diverged (the catalog check, in flux then),
        # not the verdict at its end.
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert main.position is not None and main.position.iteration == 3
        diverged = rows(app)["catalog_matches_lockfile"]
        assert diverged.has_class("-in-flux") and "@stress/beta@1.0.0" in row_text(diverged)
        assert "invariant_checked" in str(main.header.render())
        await pilot.press("right_square_bracket")
        await pilot.pause()
        tolerated = rows(app)["catalog_matches_lockfile"]
        assert tolerated.has_class("-tolerated")
        assert "@stress/alpha@2.0.0" in row_text(tolerated)
        assert not rows(app)["lockfile_parses"].has_class("-broken")  # a new block, fresh rows


async def test_stepping_shows_the_recorded_state(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        events = app.history.events(2)
        torn = next(
            i for i, e in enumerate(events) if isinstance(e, StateSnapshot) and e.phase == "live"
        )
        await main.goto(Position(2, torn - 1))
        await pilot.pause()
        before = main.state_pane.lockfile_plain
        assert "does not parse" not in before
        assert '"@stress/alpha"' in before
        await pilot.press("full_stop")
        await pilot.pause()
        assert main.position == Position(2, torn)
        assert "lockfile does not parse as JSON" in main.state_pane.lockfile_plain
        assert "event" in str(main.header.render())
        await pilot.press("comma")
        await pilot.pause()
        assert main.position == Position(2, torn - 1)
        assert main.state_pane.lockfile_plain == before
        # Stepping past the start of a block lands on the end of the one before.
        await main.goto(Position(2, 0))
        await pilot.press("comma")
        await pilot.pause()
        assert main.position == Position(1, app.history.last_index(1))


async def test_panes_follow_the_step(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(3, 0))
        await pilot.pause()
        assert set(main.panes) == {0, 1, 2, 3}
        assert all(len(main.panes[s].lines) == 0 for s in range(4))
        for _ in range(6):
            await pilot.press("full_stop")
        await pilot.pause()
        assert any("$ python -m lifecycle" in line for line in main.panes[0].lines)
        assert "pid 4130" in str(main.panes[0].border_subtitle)
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert main.panes[3].lines[-1] == "■ exit 1"
        assert any(line.startswith("! Install partially applied") for line in main.panes[3].lines)


async def test_search_finds_a_line_and_the_next(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(3, app.history.last_index(3)))
        await pilot.press("slash")
        assert main.find_bar.display and app.focused is main.find_bar
        await pilot.press(*"chunk 1", "enter")
        await pilot.pause()
        assert main.last_match is not None
        slot, line = main.last_match
        assert slot == 3 and "fetching chunk 1/12" in main.panes[3].lines[line]
        await pilot.press("enter")
        await pilot.pause()
        assert main.last_match is not None
        assert "fetching chunk 10/12" in main.panes[3].lines[main.last_match[1]]
        await pilot.press("escape")
        assert not main.find_bar.display
        assert main.search("no such text anywhere") is None


async def test_filter_keeps_only_matching_lines(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(3, app.history.last_index(3)))
        await pilot.press("f", *"chunk")
        await pilot.pause()
        assert len(main.panes[3].lines) == 12
        assert all("chunk" in line for line in main.panes[3].lines)
        assert len(main.panes[0].lines) == 0
        await pilot.press(*["backspace"] * 5, "enter")
        await pilot.pause()
        assert len(main.panes[0].lines) > 3


async def test_timeline_help_copy_and_commands(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(2, app.history.last_index(2)))
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        lanes = [entry.lane for entry in app.screen.block.timeline]
        assert {0, 1, 2, 3, None} <= set(lanes)
        await pilot.press("t")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        rows(app)["lockfile_parses"].focus()
        await pilot.press("c")
        assert app.clipboard.startswith("lockfile_parses: lockfile is not valid JSON")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Next break", "Timeline", "Theme", "Search panes"} <= titles
        assert not {"Pause", "Resume"} & titles  # nothing to pause in a replay


async def test_selecting_an_iteration_shows_it(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        assert main.position == app.history.end()
        main.iteration_list.focus()
        await pilot.press("home", "down", "enter")  # setup, then iteration 1
        await pilot.pause()
        assert main.position == Position(1, app.history.last_index(1))
        await pilot.press("n")
        await pilot.pause()
        assert main.position is not None and main.position.iteration == 2


async def test_a_truncated_trace_opens_at_its_last_good_event(sample_trace: Path) -> None:
    text = sample_trace.read_text(encoding="utf-8")
    cut = text.rstrip("\n").rsplit("\n", 3)[0] + "\n" + '{"kind":"child_out'
    sample_trace.write_text(cut, encoding="utf-8")
    app = load_replay(sample_trace)
    assert app.notice is not None and "last good event" in app.notice
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await pilot.pause()
        end = app.history.end()
        assert main.position == end and end is not None and end.iteration == 4
        assert app.history.run_finished is None


async def test_the_palette_runs_the_screens_actions(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await main.goto(Position(0, 0))
        await run_from_palette(pilot, "next br", "Next break")
        await wait_until(pilot, lambda: main.position != Position(0, 0), "the jump")
        first_break = app.history.next_break(Position(0, 0))
        assert main.position == first_break
        await run_from_palette(pilot, "timel", "Timeline")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
