"""The app on the real runner, in its own process as `race-explorer` runs it: children,
watcher, checks and trace, in a Pilot session."""

from __future__ import annotations

from pathlib import Path

from explorer.runner import RunOptions
from explorer.scenario import load_scenario
from explorer.serve import RunnerProcess
from explorer.trace import TraceReader
from explorer.tui.app import ExplorerApp
from tests.tui.conftest import SIZE, wait_until


async def test_a_real_run_fills_four_panes_and_stays_open(tmp_path: Path) -> None:
    options = RunOptions(iterations=2, trace_path=tmp_path / "run.jsonl", work_dir=tmp_path)
    runner = RunnerProcess(load_scenario(None), options)
    app = ExplorerApp(runner=runner, control=runner)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: app.run_result is not None, "the run", timeout=120)
        await pilot.pause()
        assert app.run_result is not None and app.run_result.exit_code == 0
        assert app.is_running
        # The screen follows the run to its last block, the reconcile; the list has them all.
        assert sorted(app.view.summaries) == [0, 1, 2, 3]
        assert all(s.verdict == "clean" for s in app.view.summaries.values())
        await pilot.press("p")  # back to iteration 2, with its four children
        await pilot.pause()
        assert main.position is not None and main.position.iteration == 2
        shown = [pane for pane in main.panes.values() if pane.display]
        assert len(shown) == 4
        assert all(any(line.startswith("■ exit") for line in pane.lines) for pane in shown)
        rows = main.invariant_panel.rows()
        assert rows and all(row.has_class("-ok") for row in rows.values())
        assert '"@stress/' in main.state_pane.lockfile_plain
        await pilot.press("q")
    assert app.return_value == 0
    reader = TraceReader(tmp_path / "run.jsonl")
    assert reader.warning is None and reader.iterations == [0, 1, 2, 3]
