"""Render the README's screenshots of the app from a recorded trace, deterministically.

    python screenshots/make_screenshots.py           # from screenshots/trace.jsonl
    python screenshots/make_screenshots.py --record  # first record a fresh trace (real run)

The trace is a real run of the default scenario with a seeded bug. Rendering it
is deterministic (fixed terminal size, no clock on screen, no cursor blink), so
the SVGs only change when the app or the trace does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "fixtures")]

from explorer.control import RunControl  # noqa: E402
from explorer.events import Event, RunFinished  # noqa: E402
from explorer.tui.app import ExplorerApp, load_replay  # noqa: E402
from explorer.tui.history import History, Position  # noqa: E402

TRACE = HERE / "trace.jsonl"
SIZE = (150, 44)
RECORD_ARGS = {
    "iterations": 4,
    "seed": 3,
    "profile": "swamp-w2",
    "bugs": ["torn-lockfile-write"],
    "strategy": "random",
}


class TracePlayback:
    """A stand-in runner for the live screenshot: replays a trace up to a point, then waits."""

    def __init__(self, history: History, stop: Position) -> None:
        self.history = history
        self.stop = stop
        self.consumers: list = []
        self.done = threading.Event()
        self.interrupted: asyncio.Event | None = None

    def subscribe(self, consumer) -> None:  # type: ignore[no-untyped-def]
        self.consumers.append(consumer)

    def _emit(self, event: Event) -> None:
        for consumer in self.consumers:
            consumer(event)

    async def run(self) -> RunFinished:
        assert self.history.run_started is not None
        self._emit(self.history.run_started)
        for n in self.history.iterations:
            events = self.history.events(n)
            if n == self.stop.iteration:
                events = events[: self.stop.index + 1]
            for event in events:
                self._emit(event)
            if n == self.stop.iteration:
                break
        self.interrupted = asyncio.Event()
        self.done.set()
        await self.interrupted.wait()
        return RunFinished(t=0.0, iterations=0, counts={}, exit_code=130, interrupted=True)

    def interrupt(self) -> None:
        if self.interrupted is not None:
            self.interrupted.set()


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await pilot.pause()


async def shoot_live(history: History, out: Path, source: str = TRACE.name,
                     prefix: str = "", stop: Position | None = None, tab: str = "") -> None:
    """Play the trace up to `stop` (default: just short of the first break), then shoot."""
    if stop is None:
        first_break = history.next_break(Position(0, 0))
        assert first_break is not None, "the trace has no break to show"
        stop = Position(first_break.iteration, max(1, first_break.index - 3))
    runner = TracePlayback(history, stop)
    app = ExplorerApp(runner=runner, control=RunControl(), source=source)
    async with app.run_test(size=SIZE) as pilot:
        while not runner.done.is_set():
            await pilot.pause(0.05)
        await app.flush()
        if tab:
            app.main_screen.state_pane.show_tab(tab)
        await _settle(pilot)
        app.save_screenshot(str(out / f"{prefix}live.svg"))
        await app.action_quit()


async def shoot_replay(trace: Path, out: Path, prefix: str = "", help_screen: bool = True,
                       at: Position | None = None) -> None:
    """Shoot the break at `at` (default: the first `]` stops at), then step on from it."""
    app = load_replay(trace)
    history = app.history
    first_break = at or history.next_break(Position(0, 0))
    assert first_break is not None
    async with app.run_test(size=SIZE) as pilot:
        main = app.main_screen
        main.find_bar.cursor_blink = False
        # A break highlighted with its message: the row of the invariant that broke.
        await main.goto(first_break)
        event = history.events(first_break.iteration)[first_break.index]
        invariant = getattr(event, "invariant", "")
        row = main.invariant_panel.rows().get(invariant)
        if row is not None:
            row.focus()
        await _settle(pilot)
        app.save_screenshot(str(out / f"{prefix}break.svg"))
        # Replay stepping: on through the same iteration, the state pane as recorded.
        for _ in range(6):
            await pilot.press("full_stop")
        main.state_pane.show_tab("changes")
        await _settle(pilot)
        app.save_screenshot(str(out / f"{prefix}replay.svg"))
        await main.goto(Position(first_break.iteration, history.last_index(first_break.iteration)))
        await pilot.press("t")
        await _settle(pilot)
        app.save_screenshot(str(out / f"{prefix}timeline.svg"))
        if not help_screen:
            return
        main.state_pane.show_tab("lockfile")
        await pilot.press("t", "question_mark")
        await _settle(pilot)
        app.save_screenshot(str(out / "help.svg"))


async def shoot_narrow(trace: Path, out: Path) -> None:
    """A 100-column terminal: one child's pane at a time, the strip naming them all."""
    app = load_replay(trace)
    first_break = app.history.next_break(Position(0, 0))
    assert first_break is not None
    async with app.run_test(size=(100, 30)) as pilot:
        app.main_screen.find_bar.cursor_blink = False
        await app.main_screen.goto(first_break)
        await _settle(pilot)
        app.save_screenshot(str(out / "narrow.svg"))


async def shoot_why(trace: Path, out: Path) -> None:
    """The "why" view of the first failing iteration, reached as a person does: `]`, then `w`."""
    app = load_replay(trace)
    async with app.run_test(size=(200, 55)) as pilot:
        app.main_screen.find_bar.cursor_blink = False
        await app.main_screen.goto(Position(0, 0))
        await pilot.press("right_square_bracket", "w")
        await _settle(pilot)
        app.save_screenshot(str(out / "why.svg"))


def record(trace: Path) -> None:
    from explorer.runner import Runner, RunOptions
    from explorer.scenario import load_scenario

    with tempfile.TemporaryDirectory(prefix="race-explorer-shots-") as work:
        options = RunOptions(trace_path=trace, work_dir=Path(work), **RECORD_ARGS)  # type: ignore[arg-type]
        asyncio.run(Runner(load_scenario(None), options).run())
    # The repo archives (for shrinking) are not shown on screen; keep the file small.
    lines = trace.read_text(encoding="utf-8").splitlines()
    slim = [lines[0]]
    for line in lines[1:]:
        data = json.loads(line)
        if data.get("archive"):
            data["archive"] = None
            line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        slim.append(line)
    trace.write_text("\n".join(slim) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="record a fresh trace first")
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.record or not args.trace.exists():
        record(args.trace)
    history = load_replay(args.trace).history
    asyncio.run(shoot_live(history, args.out))
    asyncio.run(shoot_replay(args.trace, args.out))
    asyncio.run(shoot_narrow(args.trace, args.out))
    asyncio.run(shoot_why(args.trace, args.out))
    for name in ("live", "break", "replay", "timeline", "help", "narrow", "why"):
        print(args.out / f"{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
