"""The app on a trace someone else wrote: bad lines are skipped and named, text stays text."""

from __future__ import annotations

from pathlib import Path

from explorer.tui.app import load_replay
from explorer.tui.history import Position
from tests.tui.conftest import SIZE

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
    assert app.notice is not None and f"byte {offset}" in app.notice
    async with app.run_test(size=SIZE) as pilot:
        await app.goto(Position(1, app.history.last_index(1)))
        await pilot.pause()
        assert app.position is not None and app.position.iteration == 1


async def test_a_garbage_line_mid_trace_is_named_and_the_rest_shown(sample_trace: Path) -> None:
    offset = insert_after(sample_trace, "Pulling @stress/beta", "\x00\xff not json")
    app = load_replay(sample_trace)
    assert app.notice is not None and f"byte {offset}: 13 byte(s) skipped" in app.notice
    assert app.history.run_finished is not None  # read past it to the end
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        end = app.history.end()
        assert app.position == end and end is not None and end.iteration == 4
