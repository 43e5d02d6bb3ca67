"""Pilot tests of what a person reads on the screen: rows, panes, feed, keys, footer."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Footer, Markdown
from textual.widgets._footer import FooterKey

from explorer.events import IterationFinished, IterationStarted
from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.help_screen import HelpScreen
from explorer.tui.model import RunView
from explorer.tui.timeline import TimelineScreen
from tests.tui.conftest import SIZE, wait_until
from tests.tui.test_tui_live import live_app


def footer_words(app: ExplorerApp) -> list[str]:
    return [key.description for key in app.screen.query_one(Footer).query(FooterKey)]


async def _iteration_1(pilot: object, app: ExplorerApp) -> None:
    """From the run's end (the reconcile), back three iterations with `p`."""
    await pilot.press("p", "p", "p")  # type: ignore[attr-defined]
    await wait_until(
        pilot,  # type: ignore[arg-type]
        lambda: app.main_screen.shown.block is not None
        and app.main_screen.shown.block.iteration == 1,
        "iteration 1",
    )


async def test_an_invariant_that_settled_shows_ok_without_its_old_message(
    sample_trace: Path,
) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        await _iteration_1(pilot, app)
        # In flux while the children ran, it held at quiescence: ok, and nothing under it.
        row = app.main_screen.invariant_panel.rows()["catalog_matches_lockfile"]
        assert row.has_class("-ok")
        assert "no Indexed catalog row" not in str(row.render())
        assert row.size.height == 1


async def test_file_changes_are_in_the_state_feed_not_in_every_child_pane(
    sample_trace: Path,
) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        await _iteration_1(pilot, app)
        main = app.main_screen
        # Which child wrote a file is not known: no pane claims another child's change.
        for pane in main.panes.values():
            assert not any("beta_model.json" in line for line in pane.lines), pane.slot
        await pilot.click("#state Tab#--content-tab-tab-changes")
        feed = main.state_pane.feed
        await wait_until(pilot, lambda: feed.row_count() > 0, "the feed")
        assert any("beta_model.json" in line for line in feed.plain_lines())


async def test_help_and_timeline_scroll_with_the_keys_at_once(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        scroll = app.screen.query_one("#help")
        await pilot.press("end")
        await wait_until(pilot, lambda: scroll.scroll_y > 0, "the help to scroll")
        assert scroll.scroll_y == scroll.max_scroll_y
        assert "Esc** (or `?`, `q`) closes this help" in app.screen.query_one(Markdown).source
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main_screen, "the help to close")
        await pilot.press("p", "p", "t")  # iteration 2: more rows than the screen has
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
        view = app.screen.query_one("#timeline")
        await pilot.press("end")
        await wait_until(pilot, lambda: view.scroll_y > 0, "the timeline to scroll")
        assert view.scroll_y == view.max_scroll_y


async def test_the_footer_offers_resume_while_paused() -> None:
    app, runner, control = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.parked, "iteration 1")
        await wait_until(pilot, lambda: "Pause" in footer_words(app), "the footer")
        await pilot.press("space")
        await wait_until(pilot, lambda: "Resume" in footer_words(app), "Resume in the footer")
        assert "Pause" not in footer_words(app)
        await pilot.press("space")
        await wait_until(pilot, lambda: "Pause" in footer_words(app), "Pause again")
        await pilot.press("q")


def test_iterations_per_second_leave_out_the_time_spent_paused() -> None:
    view = RunView()
    for n, start in ((1, 0.0), (2, 1.0), (3, 101.0)):  # a 99 s pause before iteration 3
        if n == 3:
            view.paused = True
        view.apply(IterationStarted(t=start, iteration=n, block="iteration"))
        view.apply(
            IterationFinished(t=start + 1, iteration=n, duration=1.0, verdict="clean", breaks=[])
        )
    assert view.iterations_per_second == 1.0


async def test_typing_into_the_filter_right_after_closing_search(sample_trace: Path) -> None:
    app = load_replay(sample_trace)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await pilot.press("slash", *"chunk", "escape")
        # Typed quickly: the keys arrive together, as a terminal delivers a fast typist's.
        for char in "falpha":
            app.post_message(events.Key(char, char))
        await wait_until(pilot, lambda: main.find_bar.value == "alpha", "the typed filter")
        assert main.find_bar.mode == "filter"


def test_on_exit_the_terminal_keeps_the_trace_the_counts_and_the_first_failure(
    sample_trace: Path,
) -> None:
    from explorer.trace import TraceReader, replay_command
    from explorer.tui.app import exit_summary

    view = RunView()
    for event in TraceReader(sample_trace).events():
        view.apply(event)
    lines = exit_summary(view, sample_trace).splitlines()
    assert lines[0] == f"trace: {sample_trace.resolve()}"
    assert "3 iterations" in lines[1] and "persistent 1" in lines[1] and "tolerated 1" in lines[1]
    # the command as a person pastes it: the explorer's own path, the trace's absolute path
    assert lines[2] == ("first failure, iteration 2; reproduce: "
                        f"{replay_command(sample_trace.resolve(), 2, rerun=True)}")
    assert " --headless" not in lines[2] and str(sample_trace.resolve()) in lines[2]
