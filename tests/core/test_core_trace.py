"""The trace: write -> read gives the same events; truncated and garbled tails read cleanly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from explorer.event_json import event_from_json
from explorer.events import (
    Break,
    CatalogRow,
    ChildExited,
    ChildOutput,
    ChildSpec,
    Event,
    FileChanged,
    InvariantChecked,
    InvariantSpec,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    ScheduleDecision,
    StateSnapshot,
)
from explorer.trace import FORMAT, TraceError, TraceReader, TraceWriter, make_header

SPEC = ChildSpec(0, "pull @stress/beta", ["python", "-m", "lifecycle"])


def block(iteration: int, t: float) -> list[Event]:
    return [
        IterationStarted(t=t, iteration=iteration, children=[SPEC]),
        ChildOutput(t=t + 0.1, iteration=iteration, child=0, stream="stderr",
                    line="ünïcode — and a long line " + "x" * 70000),
        FileChanged(t=t + 0.2, iteration=iteration, changes=[("added", "a/b.json")]),
        StateSnapshot(t=t + 0.3, iteration=iteration, phase="quiescent", lockfile='{"a": 1}',
                      catalog=[CatalogRow("a", "1", "model", "t", "a/b.json", "Indexed")],
                      files=["a/b.json"]),
        ScheduleDecision(t=t + 0.35, iteration=iteration, step=1, parked=[(0, "lock.acquired")],
                         chosen=0, action="run"),
        ChildExited(t=t + 0.4, iteration=iteration, child=0, returncode=1),
        InvariantChecked(t=t + 0.5, iteration=iteration, invariant="x", when="quiescent",
                         phase="quiescent", breaks=[Break("x", "broken", "a", "healed")]),
        IterationFinished(t=t + 0.6, iteration=iteration, duration=0.6, verdict="failed",
                          breaks=[Break("x", "broken", "a", "healed")]),
    ]


def sample() -> list[Event]:
    return [
        RunStarted(t=0.0, scenario="s", scenario_path=None, seed=7, iterations=2, ops=[SPEC],
                   invariants=[InvariantSpec("x", "quiescent")], repo_dir="/r", watched=["."]),
        *block(0, 1.0), *block(1, 2.0), *block(2, 3.0),
        RunFinished(t=4.0, iterations=2, counts={"healed": 3}, exit_code=1),
    ]


def write(path: Path, events: list[Event]) -> None:
    header = make_header(scenario="s", scenario_path=None, seed=7, argv=["race-explorer", "-x"])
    with TraceWriter(path, header) as writer:
        for event in events:
            writer(event)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "t.jsonl"
    events = sample()
    write(path, events)
    reader = TraceReader(path)
    assert reader.warning is None
    assert reader.header["format"] == FORMAT and reader.header["seed"] == 7
    assert reader.header["argv"] == ["race-explorer", "-x"]
    assert "started_at" in reader.header and "explorer" in reader.header
    assert reader.events() == events
    assert reader.iterations == [0, 1, 2]
    assert reader.iteration_events(1) == block(1, 2.0)
    assert reader.iteration_events(2) == block(2, 3.0)  # the run's end is not part of it


def test_every_event_is_on_disk_as_soon_as_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    header = make_header(scenario="s", scenario_path=None, seed=0)
    writer = TraceWriter(path, header)
    writer(sample()[0])
    assert TraceReader(path).events() == [sample()[0]]  # before close: flushed per event
    writer.close()


@pytest.mark.parametrize(("cut", "lost"), [(1, 1), (15, 1), (200, 2)])
def test_truncated_tail_reads_up_to_the_last_good_event(
    tmp_path: Path, cut: int, lost: int
) -> None:
    path = tmp_path / "t.jsonl"
    events = sample()
    write(path, events)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    reader = TraceReader(path)
    got = reader.events()
    assert got == events[: len(got)]
    assert len(got) == len(events) - lost  # only the torn events are lost
    torn = len(data) - cut - data[: len(data) - cut].rindex(b"\n") - 1
    assert reader.warning is not None and "1 unreadable line(s)" in reader.warning
    assert f"byte {len(data) - cut - torn}: {torn} byte(s) skipped, cut short" in reader.warning
    assert reader.iteration_events(2) == block(2, 3.0)[: 8 + 1 - lost]


def test_garbled_tail_and_cut_inside_an_iteration(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    events = sample()
    write(path, events)
    lines = path.read_bytes().split(b"\n")
    # Keep the header, run start, block 0 and half of block 1, then garbage lines.
    kept = lines[: 1 + 1 + 8 + 4]
    path.write_bytes(b"\n".join(kept) + b"\n\x00\xff{not json\n{\"kind\": \"nope\"}\n")
    reader = TraceReader(path)
    assert reader.iterations == [0, 1]
    assert reader.iteration_events(1) == block(1, 2.0)[:4]
    assert reader.warning is not None and "2 unreadable line(s)" in reader.warning
    assert reader.events() == events[: 1 + 8 + 4]


def test_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"kind": "run_started"}\n')
    with pytest.raises(TraceError, match="not a race-explorer trace"):
        TraceReader(path)
    path.write_text("")
    with pytest.raises(TraceError):
        TraceReader(path)


def test_unknown_iteration_says_what_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(path, sample())
    with pytest.raises(KeyError, match=r"recorded: \[0, 1, 2\]"):
        TraceReader(path).iteration_events(9)


def test_an_event_s_json_is_what_dataclasses_make_of_it() -> None:
    """to_dict skips dataclasses.asdict's deep copy for speed; the result must not differ."""
    events = sample()  # nested breaks, catalog rows, child specs and tuples included
    assert {type(e) for e in events} >= {RunStarted, IterationFinished, StateSnapshot}
    for event in events:
        expected = {"kind": event.kind, **dataclasses.asdict(event)}
        assert event.to_dict() == expected
        assert event.to_json() == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
        assert event_from_json(event.to_json()) == event


def test_reading_some_kinds_parses_only_those_and_checks_the_framing_of_the_rest(
    tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    write(path, sample())
    lines = path.read_bytes().splitlines(keepends=True)
    torn = b'{"kind":"child_output","t":2.2,"iteration":1,"child":0,"stream":"stdout","line\n'
    not_utf8 = (b'{"kind":"child_output","t":2.2,"iteration":1,"child":0,"stream":"stdout",'
                b'"line":"\xff"}\n')
    typed_wrong = b'{"kind":"child_output","t":"x","iteration":1}\n'  # framed: not parsed
    lines[3:3] = [torn, not_utf8, typed_wrong]
    path.write_bytes(b"".join(lines))
    reader = TraceReader(path)
    wanted = {"iteration_started", "iteration_finished"}
    got = reader.iter_events(kinds=wanted)
    assert not isinstance(got, list)  # streamed, one event at a time
    assert list(got) == [e for e in sample() if e.kind in wanted]
    offset = sum(len(line) for line in lines[:3])
    assert [s.offset for s in reader.skipped] == [offset, offset + len(torn)]
    assert len(reader.events()) == len(sample())  # read in full, the third is refused too
    assert len(reader.skipped) == 3


def test_a_skimmed_line_of_a_kind_asked_for_is_only_checked_for_framing(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write(path, sample())
    lines = path.read_bytes().splitlines(keepends=True)
    typed_wrong = b'{"kind":"invariant_checked","t":"x","iteration":1}\n'
    not_utf8 = b'{"kind":"invariant_checked","t":2.5,"iteration":1,"invariant":"\xff"}\n'
    lines[3:3] = [typed_wrong, not_utf8]
    path.write_bytes(b"".join(lines))
    checks = b'{"kind":"invariant_checked",'
    seen: list[bytes] = []

    def skim(raw: bytes) -> bool:
        seen.append(raw)
        return raw.startswith(checks)

    reader = TraceReader(path)
    wanted = {"iteration_started", "invariant_checked"}
    got = list(reader.iter_events(kinds=wanted, skim=skim))
    assert got == [e for e in sample() if isinstance(e, IterationStarted)]
    assert [s.offset for s in reader.skipped] == [sum(len(line) for line in lines[:4])]
    assert all(raw.startswith((checks, b'{"kind":"iteration_started",')) for raw in seen)
    # Not skimmed, the same check lines are parsed, and the badly typed one refused.
    again = TraceReader(path)
    assert sum(isinstance(e, InvariantChecked) for e in again.iter_events(kinds=wanted)) == 3
    assert len(again.skipped) == 2
    # Either way the stream left the index behind it, the same as the index's own pass.
    assert reader.iterations == again.iterations == TraceReader(path).iterations == [0, 1, 2]
    assert reader.iteration_events(1) == again.iteration_events(1) == block(1, 2.0)
