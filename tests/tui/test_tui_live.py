"""Pilot tests of live mode, driven by a fake runner through a real RunControl."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot
from textual.widgets import Static

from explorer.control import RunControl
from explorer.events import CheckpointReached, ChildOutput
from explorer.tui.app import YOUNG_COLLECTION_THRESHOLD, ExplorerApp
from explorer.tui.child_view import PANE_LINE_CAP
from explorer.tui.messages import IterationChosen
from explorer.tui.timeline import TimelineScreen
from tests.tui.conftest import (
    SIZE,
    record_calls,
    run_from_palette,
    screenshot_text,
    wait_until,
)
from tests.tui.fake_runner import FakeRunner


def live_app() -> tuple[ExplorerApp, FakeRunner, RunControl]:
    control = RunControl()
    runner = FakeRunner(control)
    return ExplorerApp(runner=runner, control=control, source="fake"), runner, control


@asynccontextmanager
async def parked_in_iteration_1() -> AsyncIterator[tuple[ExplorerApp, FakeRunner, Pilot[int]]]:
    """A live app whose first iteration is halfway, its first child's pane on screen."""
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked and 0 in app.main_screen.panes, "it. 1")
        await pilot.pause()
        yield app, runner, pilot


def list_rows(app: ExplorerApp) -> list[str]:
    return [str(option.prompt) for option in app.main_screen.iteration_list.options]


async def test_pause_stops_new_iterations_and_n_runs_one_more() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: runner.parked and runner.started == [1], "iteration 1")
        await pilot.press("space")
        await wait_until(pilot, lambda: control.paused, "the control to pause")
        assert "paused" in str(main.header.render())
        runner.open_gate()
        await wait_until(pilot, lambda: runner.waiting_for_control, "the end of iteration 1")
        await wait_until(
            pilot, lambda: app.view.summaries[1].verdict == "clean", "iteration 1 shown as done"
        )
        await wait_until(
            pilot, lambda: list_rows(app)[-1].startswith("✓"), "iteration 1's row to turn clean"
        )
        assert len(list_rows(app)) == 2 and "1" in list_rows(app)[-1]  # rewritten, not added
        for _ in range(5):
            await pilot.pause()
        assert runner.started == [1]  # paused: iteration 2 never began
        await pilot.press("n")
        await wait_until(pilot, lambda: runner.started == [1, 2], "one more iteration")
        runner.open_gate()
        await wait_until(pilot, lambda: runner.waiting_for_control, "the end of iteration 2")
        for _ in range(5):
            await pilot.pause()
        assert runner.started == [1, 2]  # exactly one more
        await pilot.press("space")
        await wait_until(pilot, lambda: runner.parked and runner.started == [1, 2, 3], "resume")
        runner.open_gate()
        await wait_until(
            pilot, lambda: "finished · exit 1" in str(main.header.render()), "the end of the run"
        )
        assert app.is_running  # stays open on the results
        await pilot.press("q")
    assert app.return_value == 1


async def test_a_live_break_turns_the_row_red_as_it_happens() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        runner.open_gate()
        await wait_until(pilot, lambda: runner.parked and runner.started == [1, 2], "iteration 2")
        await wait_until(
            pilot,
            # rows are rebuilt when a block starts: absent for a moment is "not yet"
            lambda: (row := main.invariant_panel.rows().get("lockfile_parses")) is not None
            and row.has_class("-broken"),
            "the lockfile row to turn red",
        )
        row = main.invariant_panel.rows()["lockfile_parses"]
        assert "not valid JSON" in str(row.render())
        assert "lockfile does not parse" in main.state_pane.lockfile_plain
        assert any(line.startswith("! Could not parse") for line in main.panes[1].lines)
        # Looking back at iteration 1 while 2 runs, then following the live run again.
        main.iteration_list.post_message(IterationChosen(1))
        await wait_until(pilot, lambda: main.position is not None, "iteration 1 shown")
        assert main.position is not None and main.position.iteration == 1
        assert not main.invariant_panel.rows()["lockfile_parses"].has_class("-broken")
        await pilot.press("l")
        assert main.position is None
        assert main.invariant_panel.rows()["lockfile_parses"].has_class("-broken")
        await pilot.press("q")
    assert runner.interrupted
    assert app.return_value == 130


async def test_a_burst_of_output_draws_only_the_visible_lines_and_lays_out_nothing() -> None:
    async with parked_in_iteration_1() as (app, runner, pilot):
        main = app.main_screen
        pane = main.panes[0]
        layouts = record_calls(main, "_refresh_layout")
        built_before = pane.strips_built
        burst = [
            ChildOutput(t=9.0, iteration=1, child=0, stream="stdout", line=f"burst {i}")
            for i in range(PANE_LINE_CAP * 3)
        ]
        for event in burst:
            app.receive(event)
        last = f"  burst {len(burst) - 1}"
        await wait_until(pilot, lambda: bool(pane.lines) and pane.lines[-1] == last, "the burst")
        await pilot.pause()
        # Six thousand lines cost a few screenfuls of rendering and no layout pass.
        assert pane.strips_built - built_before <= 3 * pane.size.height
        assert layouts == []
        assert len(pane.lines) == PANE_LINE_CAP  # the pane is capped, the trace keeps all
        assert pane.is_vertical_scroll_end and pane.max_scroll_y > 0
        assert app.view.block is not None
        assert app.view.block.children[0].total_lines >= len(burst)
        await pilot.press("q")


async def test_a_new_line_repaints_its_row_and_a_new_subtitle_only_the_border() -> None:
    async with parked_in_iteration_1() as (app, runner, pilot):
        main = app.main_screen
        pane = main.panes[0]
        painted = record_calls(pane, "render_line")
        rows_before = len(pane.lines)
        app.receive(ChildOutput(t=9.0, iteration=1, child=0, stream="stdout", line="one more"))
        await wait_until(pilot, lambda: pane.lines[-1:] == ["  one more"], "the line")
        await pilot.pause()
        assert painted == [(rows_before,)], "only the new line's row is drawn"
        painted.clear()
        app.receive(CheckpointReached(t=9.1, iteration=1, child=0, name="after-write"))
        await wait_until(pilot, lambda: "after-write" in str(pane.border_subtitle), "subtitle")
        await pilot.pause()
        # The checkpoint is a line too ("◆ after-write"): its row, and no other.
        assert painted == [(rows_before + 1,)], "a new subtitle redraws the border, not the lines"
        assert "after-write" in screenshot_text(app)
        # The next iteration's child starts with no lines: the rows that showed the last
        # one's are blanked, though only they are drawn again.
        painted.clear()
        runner.open_gate()
        await wait_until(pilot, lambda: app.view.iterations_done >= 1 and runner.parked, "it. 2")
        await wait_until(pilot, lambda: pane.view is app.view.block.children[0], "new child")
        await pilot.pause()
        assert "one more" not in screenshot_text(app)
        assert len(painted) < pane.size.height
        await pilot.press("q")


async def test_the_growing_iteration_list_never_flashes_a_scrollbar() -> None:
    # Sized against its old height, a list one row longer would show its bar, and the
    # layout pass that grows the box would hide it again: two passes a new row.
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        listed = app.main_screen.iteration_list
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        bars: list[bool] = []
        listed.watch(listed, "show_vertical_scrollbar", lambda on: bars.append(on), init=False)
        for done in (1, 2):
            runner.open_gate()
            await wait_until(pilot, lambda n=done: app.view.iterations_done >= n, f"it. {done}")
            await wait_until(pilot, lambda: runner.parked or app.run_result is not None, "next")
            await pilot.pause()
        assert len(list_rows(app)) >= 3
        assert bars == [] and not listed.show_vertical_scrollbar
        await pilot.press("q")


async def test_a_new_iteration_does_not_redraw_scrollbars_whose_look_stays() -> None:
    async with parked_in_iteration_1() as (app, runner, pilot):
        main = app.main_screen
        panes = main.panes.values()
        assert all(p.virtual_size.height < p.scrollable_content_region.height for p in panes)
        drawn = [record_calls(p.vertical_scrollbar, "render") for p in panes]
        runner.open_gate()
        await wait_until(pilot, lambda: app.view.iterations_done >= 1 and runner.parked, "it. 2")
        await wait_until(pilot, lambda: main.panes[0].view is app.view.block.children[0], "child")
        await pilot.pause()
        # Every pane started over with lines that fit: full bars before and after.
        assert drawn and not any(drawn)
        await pilot.press("q")


async def test_the_app_leaves_the_garbage_collector_as_it_found_it() -> None:
    before = gc.get_threshold()
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        # While it runs, what start-up built is not walked again, and young passes are rarer.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD > before[0]
        await pilot.press("q")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_latest_state_messages_replace_older_ones() -> None:
    from explorer.tui.messages import EventsQueued, StateUpdated
    from explorer.tui.state_view import StateView

    state = StateView()
    assert EventsQueued().can_replace(EventsQueued())
    assert StateUpdated(state, 2).can_replace(StateUpdated(state, 1))
    assert not StateUpdated(state, 2).can_replace(EventsQueued())
    assert not IterationChosen(1).can_replace(IterationChosen(2))  # a choice is not a state


async def test_the_open_timeline_follows_the_running_iteration() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked and runner.started == [1], "iteration 1")
        block = lambda: app.view.block  # noqa: E731
        await wait_until(pilot, lambda: (b := block()) is not None and b.iteration == 1, "shown")
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        halfway = screen.shown
        assert not halfway[1]  # the iteration is still running
        control.pause()  # iteration 2 must not replace what the timeline shows
        runner.open_gate()
        await wait_until(pilot, lambda: screen.shown[1], "the timeline to show the finish")
        assert screen.shown[0] > halfway[0]
        title = str(screen.query_one("#timeline-title", Static).render())
        assert f"{screen.shown[0]} events" in title and "clean in" in title
        await pilot.press("t")
        await pilot.press("q")


async def test_s_holds_the_scheduling_decisions_and_lets_one_through_a_press() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        await pilot.press("s")
        assert control.stepping and "stepping decisions" in str(main.header.render())
        await pilot.press("s")
        await asyncio.wait_for(control.next_decision(), 5)  # the one the press let through
        assert control.stepping  # and the next is held again
        await pilot.press("g")
        assert not control.stepping and "stepping" not in str(main.header.render())
        await pilot.press("q")


async def test_the_palette_pauses_the_run() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: runner.parked and runner.started == [1], "iteration 1")
        await run_from_palette(pilot, "pause", "Pause")
        await wait_until(pilot, lambda: control.paused, "the control to pause")
        assert "paused" in str(main.header.render())
        await pilot.press("q")
