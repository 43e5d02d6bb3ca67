"""Pilot tests of live mode, driven by a fake runner through a real RunControl."""

from __future__ import annotations

from explorer.control import RunControl
from explorer.tui.app import ExplorerApp
from explorer.tui.messages import IterationChosen
from tests.tui.conftest import SIZE, wait_until
from tests.tui.fake_runner import FakeRunner


def live_app() -> tuple[ExplorerApp, FakeRunner, RunControl]:
    control = RunControl()
    runner = FakeRunner(control)
    return ExplorerApp(runner=runner, control=control, source="fake"), runner, control


async def test_pause_stops_new_iterations_and_n_runs_one_more() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked and runner.started == [1], "iteration 1")
        await pilot.press("space")
        await wait_until(pilot, lambda: control.paused, "the control to pause")
        assert "paused" in str(app.header.render())
        runner.open_gate()
        await wait_until(pilot, lambda: runner.waiting_for_control, "the end of iteration 1")
        await wait_until(
            pilot, lambda: app.view.summaries[1].verdict == "clean", "iteration 1 shown as done"
        )
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
            pilot, lambda: "finished · exit 1" in str(app.header.render()), "the end of the run"
        )
        assert app.is_running  # stays open on the results
        await pilot.press("q")
    assert app.return_value == 1


async def test_a_live_break_turns_the_row_red_as_it_happens() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        runner.open_gate()
        await wait_until(pilot, lambda: runner.parked and runner.started == [1, 2], "iteration 2")
        await wait_until(
            pilot,
            lambda: app.invariant_panel.rows()["lockfile_parses"].has_class("-broken"),
            "the lockfile row to turn red",
        )
        row = app.invariant_panel.rows()["lockfile_parses"]
        assert "not valid JSON" in str(row.render())
        assert "lockfile does not parse" in app.state_pane.lockfile_plain
        assert any(line.startswith("! Could not parse") for line in app.panes[1].lines)
        # Looking back at iteration 1 while 2 runs, then following the live run again.
        app.iteration_list.post_message(IterationChosen(1))
        await wait_until(pilot, lambda: app.position is not None, "iteration 1 shown")
        assert app.position is not None and app.position.iteration == 1
        assert not app.invariant_panel.rows()["lockfile_parses"].has_class("-broken")
        await pilot.press("l")
        assert app.position is None
        assert app.invariant_panel.rows()["lockfile_parses"].has_class("-broken")
        await pilot.press("q")
    assert runner.interrupted
    assert app.return_value == 130
