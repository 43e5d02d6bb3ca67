"""Corruption inside a trace: the bad line is skipped and named, the rest is still read,
and `replay --headless` says so and exits 65 (the account is incomplete)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from core_helpers import run_explorer
from test_core_event_schema import ISSUE_LINE
from test_core_trace import block, sample, write

from explorer import trace_index
from explorer.cli_base import EXIT_TRACE_INCOMPLETE
from explorer.events import ChildOutput
from explorer.trace import TraceReader

EVENTS = sample()
BLOCK_1_OUTPUT = 1 + 1 + 8 + 1  # line number of block 1's child output (after the header)

CORRUPTIONS = {
    "garbage line": b"this is not json at all\n",
    "JSON array": b'[{"kind":"child_output"}]\n',
    "unknown event": b'{"kind":"child_teleported","t":2.2,"iteration":1}\n',
    "non-UTF-8": b'{"kind":"child_output","t":2.2,"iteration":1,"child":0,"stream":"stdout",'
                 b'"line":"\xff\xfe"}\n',
    "random bytes": bytes([0x8F, 0x00, 0x1B, 0x5B, 0x32, 0x4A, 0xC3, 0x28, 0x0A]),
    "wrong field types": ISSUE_LINE.encode() + b"\n",
    "an exit with wrong field types": b'{"kind":"child_exited","t":2.2,"iteration":"one",'
                                      b'"child":0,"returncode":"0"}\n',
}


def corrupt(path: Path, insert: bytes) -> int:
    """Insert `insert` as a line of its own inside block 1; returns its byte offset."""
    write(path, EVENTS)
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(BLOCK_1_OUTPUT, insert)
    path.write_bytes(b"".join(lines))
    return sum(len(raw) for raw in lines[:BLOCK_1_OUTPUT])


@pytest.mark.parametrize("insert", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_a_bad_line_mid_trace_is_skipped_named_and_the_rest_read(
    tmp_path: Path, insert: bytes
) -> None:
    path = tmp_path / "t.jsonl"
    offset = corrupt(path, insert)
    reader = TraceReader(path)
    assert reader.events() == EVENTS  # nothing after the bad line is lost
    assert reader.iteration_events(1) == block(1, 2.0)
    assert reader.iteration_events(2) == block(2, 3.0)
    assert [(s.offset, s.length) for s in reader.skipped] == [(offset, len(insert))]
    assert reader.warning is not None
    assert f"1 unreadable line(s) ({len(insert)} bytes)" in reader.warning
    assert f"byte {offset}: {len(insert)} byte(s) skipped" in reader.warning
    assert "\x1b" not in reader.warning and "\x00" not in reader.warning  # shown escaped


def test_bytes_spliced_into_a_line_lose_only_that_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(path, EVENTS)
    data = path.read_bytes()
    at = data.index(b'"line":"\xc3\xbcn\xc3\xafcode', data.index(b'"iteration":1,'))
    path.write_bytes(data[:at] + b"\x8f\x00\n\x13" + data[at:])
    reader = TraceReader(path)
    lost = EVENTS[BLOCK_1_OUTPUT - 1]
    assert reader.events() == [e for e in EVENTS if e is not lost]
    assert len(reader.skipped) == 2  # the head of the line, and its tail after the newline
    assert reader.skipped[1].offset == at + 3


# The summary reads in full only the kinds it tells (an exit, not an output line).
@pytest.mark.parametrize("name", ["garbage line", "non-UTF-8", "an exit with wrong field types"])
def test_replay_headless_warns_with_the_offset_and_exits_65(tmp_path: Path, name: str) -> None:
    path = tmp_path / "t.jsonl"
    offset = corrupt(path, CORRUPTIONS[name])
    for args in ([], ["--iteration", "1"]):
        result = run_explorer("replay", str(path), "--headless", *args, cwd=tmp_path)
        assert result.returncode == EXIT_TRACE_INCOMPLETE, result.stderr
        assert "Traceback" not in result.stderr
        assert f"warning: {path}: 1 unreadable line(s)" in result.stderr
        assert f"byte {offset}:" in result.stderr
    summary = run_explorer("replay", str(path), "--headless", cwd=tmp_path).stdout
    assert "iteration 2: failed" in summary  # the blocks after the bad line are still told
    account = run_explorer("replay", str(path), "--headless", "--iteration", "1",
                           cwd=tmp_path).stdout
    assert "verdict: failed" in account  # block 1 is told to its end


def test_replay_headless_of_a_sound_trace_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(path, EVENTS)
    result = run_explorer("replay", str(path), "--headless", cwd=tmp_path)
    assert result.returncode == 0 and "warning" not in result.stderr


# What a check of the framing alone can tell (a line framed as an event with a field of
# the wrong type is left to the read that parses it).
FRAMING = ["garbage line", "JSON array", "unknown event", "non-UTF-8", "random bytes"]


def test_checking_every_line_in_small_steps_names_each_bad_line_once(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(path, EVENTS)
    lines = path.read_bytes().splitlines(keepends=True)
    for at, name in zip((2, 5, 9, 14, 20), FRAMING, strict=True):
        lines.insert(at, CORRUPTIONS[name])
    lines.append(b'{"kind":"child_out')  # and the writer stopped mid-line
    path.write_bytes(b"".join(lines))
    bad = {n for n, raw in enumerate(lines) if raw in {*CORRUPTIONS.values(), lines[-1]}}
    expected = [(sum(map(len, lines[:n])), len(lines[n])) for n in sorted(bad)]
    reader = TraceReader(path)
    # Steps far shorter than the lines: most steps end inside a line, none may split one.
    reached = list(reader.check_lines(step=100))
    assert reached == sorted(reached) and reached[-1] == path.stat().st_size
    assert len(reached) > len(lines) // 2
    assert [(s.offset, s.length) for s in reader.skipped] == expected


def test_text_that_looks_like_a_block_start_inside_a_line_starts_no_block(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    start_line = block(7, 9.0)[0].to_json()  # a child printing a trace's start line
    events = [e if not isinstance(e, ChildOutput) else dataclasses.replace(e, line=start_line)
              for e in EVENTS]
    write(path, events)
    reader = TraceReader(path)
    assert reader.iterations == [0, 1, 2]
    assert reader.iteration_events(1) == [e for e in events if getattr(e, "iteration", 0) == 1]


@pytest.mark.parametrize("window", [64, 200, 1 << 20])
def test_the_index_is_the_same_whatever_the_window_searched_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    path = tmp_path / "t.jsonl"
    write(path, EVENTS)
    with path.open("ab") as f:
        f.write(b'{"kind":"child_out')  # the writer stopped mid-line
    lines = path.read_bytes().splitlines(keepends=True)
    offsets = [sum(map(len, lines[:n])) for n in range(len(lines))]
    starts = [at for at, raw in zip(offsets, lines, strict=True)
              if raw.startswith(b'{"kind":"iteration_started",')]
    monkeypatch.setattr(trace_index, "WINDOW", window)  # lines straddle most windows
    reader = TraceReader(path)
    assert {n: span for n, (_, *span) in reader.blocks().items()} == {
        0: [starts[0], starts[1]], 1: [starts[1], starts[2]], 2: [starts[2], offsets[-2]]}
    with reader.searching() as data:
        assert data.last("run_finished") == offsets[-2]
        assert data.cut_short() == offsets[-1]
        assert data.line(offsets[2]) == lines[2]  # a 70 KB line
        breaking = data.first("invariant_checked", starts[1], starts[2], b'"breaks":[{')
        assert breaking is not None and data.line(breaking).startswith(b'{"kind":"invariant_')
        assert data.first("state_snapshot", starts[2], starts[2] + 10) is None
    reader.check_end()
    assert [s.offset for s in reader.skipped] == [offsets[-1]]
