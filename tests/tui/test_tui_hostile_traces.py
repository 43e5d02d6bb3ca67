"""The app on a trace someone else wrote: bad lines are skipped and named, text stays text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widget import Widget

from explorer.events import Break, ChildOutput, FileChanged, IterationFinished
from explorer.tui.app import ExplorerApp, load_replay
from explorer.tui.history import Position
from tests.tui.conftest import SIZE, record_notifications, wait_until
from tests.tui.sample_run import sample_events, write_trace

# OSC 52 with an ST terminator writes the clipboard, CSI 2J clears, OSC 0 sets the title.
HOSTILE = "\x1b]52;c;aGFja2Vk\x1b\\\x1b[2J\x1b]0;pwned\x07\x9b31m done"
RAW = ("\x1b", "\x07", "\x9b")

ISSUE_LINE = '{"kind":"child_output","t":"x","iteration":"one","child":null,"stream":5,"line":7}'


def insert_after(trace: Path, needle: str, line: str) -> int:
    """Insert `line` after the first line holding `needle`; returns its byte offset."""
    lines = trace.read_bytes().splitlines(keepends=True)
    at = next(n for n, raw in enumerate(lines) if needle.encode() in raw) + 1
    lines.insert(at, line.encode() + b"\n")
    trace.write_bytes(b"".join(lines))
    return sum(len(raw) for raw in lines[:at])


async def test_a_line_with_wrong_field_types_is_named_not_a_crash(sample_trace: Path) -> None:
    offset = insert_after(sample_trace, "Pulling @stress/beta", ISSUE_LINE)
    app = load_replay(sample_trace)
    said = record_notifications(app)
    # Framed as an event, it passes the opening's skim: its block's read checks its fields.
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not any(f"byte {offset}" in m for m in said)
        await app.main_screen.goto(Position(1, app.history.last_index(1)))
        await wait_until(pilot, lambda: any(f"byte {offset}" in m for m in said),
                         "the warning naming the bad line")
        assert app.main_screen.position is not None and app.main_screen.position.iteration == 1


async def test_a_garbage_line_mid_trace_is_named_and_the_rest_shown(sample_trace: Path) -> None:
    offset = insert_after(sample_trace, "Pulling @stress/beta", "\x00\xff not json")
    app = load_replay(sample_trace)
    said = record_notifications(app)
    assert app.history.run_finished is not None  # read past it to the end
    async with app.run_test(size=SIZE) as pilot:
        # The check of every line runs once the screen is up, and names it.
        await wait_until(pilot, lambda: any(f"byte {offset}: 13 byte(s) skipped" in m
                                            for m in said), "the warning naming it")
        end = app.history.end()
        assert app.main_screen.position == end and end is not None and end.iteration == 4


def screen_text(app: ExplorerApp) -> str:
    """What every widget on screen draws, segment by segment, as the driver would write it."""
    lines = []
    for widget in app.screen.walk_children(Widget):
        for y in range(widget.size.height):
            lines.append("".join(segment.text for segment in widget.render_line(y)))
    return "\n".join(lines)


async def test_escape_sequences_in_a_trace_are_drawn_escaped(tmp_path: Path) -> None:
    events = []
    for event in sample_events():
        if isinstance(event, ChildOutput) and event.iteration == 1:
            event = replace(event, line=f"{event.line} {HOSTILE}")
        elif isinstance(event, FileChanged) and event.iteration == 1:
            event = replace(event, changes=[("added", HOSTILE)])
        elif isinstance(event, IterationFinished) and event.iteration == 1:
            event = replace(event, breaks=[Break("lockfile_parses", HOSTILE, None, "healed")])
        events.append(event)
    app = load_replay(write_trace(tmp_path / "hostile.jsonl", events))
    async with app.run_test(size=SIZE) as pilot:
        await app.main_screen.goto(Position(1, app.history.last_index(1)))
        await pilot.pause()
        drawn = screen_text(app)
        assert "\\x1b]52;c;aGFja2Vk" in drawn  # shown, escaped
        assert not any(c in drawn for c in RAW)
