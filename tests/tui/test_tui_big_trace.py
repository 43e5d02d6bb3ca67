"""A big trace in the app: the iteration list at once, a block's events when it is shown.

The trace is a real recorded run's iterations repeated (as bench/big_trace.py builds its
200 MB one), a few hundred of them: what is asserted is what is read and held, not time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.big_trace import grow
from explorer.events import ChildOutput
from explorer.trace import TraceReader
from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.history import History, Position
from explorer.tui.trace_history import BLOCKS_KEPT, TraceHistory
from tests.tui.conftest import SIZE, record_notifications, wait_until

REAL_RUN = Path(__file__).resolve().parents[2] / "screenshots" / "trace.jsonl"


@pytest.fixture
def big_trace(tmp_path: Path) -> tuple[Path, int]:
    trace = tmp_path / "big.jsonl"
    return trace, grow(REAL_RUN, trace, megabytes=6)


def lazy(app: ExplorerApp) -> TraceHistory:
    assert isinstance(app.history, TraceHistory)
    return app.history


def showing(app: ExplorerApp, iteration: int) -> Callable[[], bool]:
    def shown() -> bool:
        position = app.main_screen.position
        return position is not None and position.iteration == iteration

    return shown


def pane_lines(app: ExplorerApp) -> list[str]:
    return [line for _, pane in sorted(app.main_screen.panes.items()) if pane.display
            for line in pane.lines]


def output_of(trace: Path, iteration: int) -> list[str]:
    """What the block's children printed, read straight from the trace."""
    return [e.line for e in TraceReader(trace).iteration_events(iteration)
            if isinstance(e, ChildOutput)]


async def test_the_list_shows_every_iteration_and_a_late_one_is_read_when_picked(
        big_trace: tuple[Path, int]) -> None:
    trace, n = big_trace
    assert n > 200
    app = load_replay(trace)
    assert app.notice is None
    async with app.run_test(size=SIZE) as pilot:
        main, listed = app.main_screen, app.main_screen.iteration_list
        await wait_until(pilot, lambda: listed.option_count == n, "every iteration listed")
        assert [o.id for o in listed.options] == [f"it-{k}" for k in range(1, n + 1)]
        assert "✗" in str(listed.options[1].prompt)  # each row has its verdict
        # Opened at its end, the list shows its last rows (each made when first drawn).
        drawn = [str(listed.render_line(y).text) for y in range(listed.size.height)]
        assert any(f"{n - 1} " in row for row in drawn) and f"{n} " in drawn[-1]
        history = lazy(app)
        # Opened at its end: only the last block and the one whose state it starts from.
        assert history.loaded == [n - 1, n]
        late = n - 40
        listed.focus()
        await pilot.press(*["up"] * 40, "enter")
        await wait_until(pilot, showing(app, late), f"iteration {late} shown")
        header = str(main.header.render())
        total = len(TraceReader(trace).iteration_events(late))
        assert f"iteration {late} · event {total}/{total} iteration_finished" in header
        shown = pane_lines(app)
        printed = output_of(trace, late)
        assert printed and all(any(line in s for s in shown) for line in printed)
        assert late in history.loaded


async def test_walking_through_many_iterations_keeps_a_bounded_few_loaded(
        big_trace: tuple[Path, int]) -> None:
    trace, n = big_trace
    app = load_replay(trace, iteration=10)
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: main.position is not None, "the replay open")
        assert main.position == Position(10, app.history.last_index(10))  # --iteration 10
        for k in range(11, 41):
            await pilot.press("n")
            await wait_until(pilot, showing(app, k), f"iteration {k}")
        history = lazy(app)
        assert len(history.loaded) == BLOCKS_KEPT
        assert history.loaded[-1] == 40 and 10 not in history.loaded
        # A block let go is read again when it is shown again.
        for k in range(39, 9, -1):
            await pilot.press("p")
            await wait_until(pilot, showing(app, k), f"back to iteration {k}")
        assert "iteration 10 · event" in str(main.header.render())
        assert history.loaded[-1] == 10 and len(history.loaded) == BLOCKS_KEPT


async def test_a_bad_line_late_in_a_big_trace_is_named_once_the_list_is_up(
        big_trace: tuple[Path, int]) -> None:
    trace, n = big_trace
    late = n - 5
    lines = trace.read_bytes().splitlines(keepends=True)
    at = lines.index(next(raw for raw in lines if b'"kind":"iteration_started","t":' in raw
                          and b'"iteration":%d,' % late in raw)) + 1
    lines.insert(at, b"\x00\xff not an event\n")
    trace.write_bytes(b"".join(lines))
    offset = sum(map(len, lines[:at]))
    app = load_replay(trace)
    said = record_notifications(app)
    assert app.notice is None  # opening reads only what the list needs
    async with app.run_test(size=SIZE) as pilot:
        listed = app.main_screen.iteration_list
        await wait_until(pilot, lambda: listed.option_count == n, "every iteration listed")
        # The check of every line, between frames, reaches it without its block being read.
        await wait_until(pilot, lambda: any(f"byte {offset}: 16 byte(s) skipped" in m
                                            for m in said), "the bad line named")
        assert late not in lazy(app).loaded


def test_a_lazy_history_tells_what_a_loaded_one_does(big_trace: tuple[Path, int]) -> None:
    trace, _ = big_trace
    eager = History.from_events(TraceReader(trace).events(), output_cap=None)
    history = TraceHistory(TraceReader(trace), kept=3)
    assert history.iterations == eager.iterations
    assert history.summaries() == eager.summaries()
    assert history.run_started == eager.run_started
    assert history.run_finished == eager.run_finished
    # The break stops come from skimming the checks' lines, never parsing most of them.
    assert history.break_positions() == eager.break_positions() != []
    for n in (1, 2, len(eager.iterations) // 2, eager.iterations[-1]):
        assert history.events(n) == eager.events(n)
        assert history.state_before(n).snapshot == eager.state_before(n).snapshot
    here = Position(eager.iterations[-1], 0)
    assert history.previous_break(here) == eager.previous_break(here)
    assert len(history.loaded) == 3
