"""The view model folds events into what the screen shows, without Textual."""

from __future__ import annotations

import json

from explorer.events import (
    CheckpointReached,
    ChildOutput,
    InvariantChecked,
    IterationStarted,
    ScheduleDecision,
    StateSnapshot,
)
from explorer.tui.child_view import ERR
from explorer.tui.history import History, Position
from explorer.tui.model import RunView
from explorer.tui.state_view import lockfile_lines
from tests.tui.sample_run import sample_events


def _fold_until(predicate):
    view = RunView()
    for event in sample_events():
        view.apply(event)
        if predicate(event):
            return view
    raise AssertionError("no such event")


def test_live_lockfile_break_is_broken_and_quiescent_failure_is_in_flux():
    view = _fold_until(
        lambda e: (
            isinstance(e, InvariantChecked)
            and e.invariant == "catalog_matches_lockfile"
            and e.iteration == 2
        )
    )
    assert view.block is not None
    rows = view.block.invariants
    assert rows["lockfile_parses"].status == "broken"
    assert "not valid JSON" in rows["lockfile_parses"].message
    assert rows["catalog_matches_lockfile"].status == "in flux"
    assert rows["files_match_lockfile"].status == "pending"


def test_finished_iterations_classify_their_rows():
    view = _fold_until(lambda e: e.kind == "iteration_finished" and e.iteration == 3)
    assert view.block is not None
    assert view.block.invariants["catalog_matches_lockfile"].status == "tolerated"
    assert view.block.invariants["lockfile_parses"].status == "ok"
    assert view.summaries[2].verdict == "failed"
    assert view.summaries[3].verdict == "tolerated"
    assert view.counts == {"tolerated": 1, "healed": 0, "persistent": 1}


def test_each_block_starts_with_fresh_rows_but_keeps_the_state():
    view = _fold_until(lambda e: isinstance(e, IterationStarted) and e.iteration == 3)
    assert view.block is not None
    assert {row.status for row in view.block.invariants.values()} == {"pending"}
    assert view.block.state.snapshot is not None  # the last state of iteration 2


def test_stderr_is_marked_and_counted():
    view = _fold_until(lambda e: isinstance(e, ChildOutput) and e.stream == "stderr")
    assert view.block is not None
    pane = view.block.children[1]
    assert pane.lines[-1].startswith(ERR)
    assert "exit" not in pane.state
    assert pane.total_lines == len(pane.lines)


def test_lockfile_lines_flag_the_changed_entry():
    before = json.dumps({"a": {"version": "1"}, "b": {"version": "1"}})
    after = json.dumps({"a": {"version": "1"}, "b": {"version": "2"}, "c": {"version": "1"}})
    lines = lockfile_lines(after, before)
    flagged = {line.strip() for line, changed in lines if changed}
    assert '"version": "2"' in flagged and '"c": {' in flagged
    assert '"a": {' not in flagged
    assert json.loads("".join(line for line, _ in lines)) == json.loads(after)
    gone = lockfile_lines(before, after)
    assert ("  (removed c)", True) in gone
    torn = lockfile_lines('{"a": {"vers', None)
    assert torn[0] == ("lockfile does not parse as JSON:", True)


def test_view_at_rebuilds_the_state_at_any_event_both_ways():
    history = History.from_events(sample_events())
    assert history.iterations == [0, 1, 2, 3, 4]
    events = history.events(2)
    torn_at = next(
        i for i, e in enumerate(events) if isinstance(e, StateSnapshot) and e.phase == "live"
    )
    after = history.view_at(Position(2, torn_at))
    before = history.view_at(Position(2, torn_at - 1))
    assert after.block and before.block
    assert after.block.state.snapshot is events[torn_at]
    assert before.block.state.snapshot is not events[torn_at]
    # At the first event of a block the state pane shows where the last block ended.
    start = history.view_at(Position(2, 0))
    assert start.block and start.block.state.snapshot is not None
    assert start.block.state.snapshot.iteration == 1
    assert set(start.summaries) == {0, 1, 2}


def test_breaks_stop_where_the_state_first_diverged_then_at_each_break_and_the_verdict():
    history = History.from_events(sample_events())
    stops = []
    here = history.next_break(Position(0, 0))
    while here is not None:
        event = history.events(here.iteration)[here.index]
        name = event.invariant if isinstance(event, InvariantChecked) else event.kind
        stops.append((here.iteration, name, getattr(event, "phase", "")))
        here = history.next_break(here)
    assert stops == [
        (2, "lockfile_parses", "live"),  # the torn write, as it happened
        (2, "lockfile_parses", "quiescent"),
        (2, "iteration_finished", ""),
        (3, "catalog_matches_lockfile", "live"),  # in flux then, tolerated in the end
        (3, "catalog_matches_lockfile", "quiescent"),
        (3, "iteration_finished", ""),
    ]  # iteration 1 was in flux too, but ended clean: no stop there
    last = history.break_positions()[-1]
    assert history.previous_break(last) == history.break_positions()[-2]


def test_stepping_moves_one_event_and_crosses_into_the_neighbouring_blocks():
    history = History.from_events(sample_events())
    last_of_1 = history.last_index(1)
    assert history.step(Position(2, 5), 1) == Position(2, 6)
    assert history.step(Position(2, 5), -1) == Position(2, 4)
    # Past a block's edge: the first event of the next, the last event of the one before.
    assert history.step(Position(1, last_of_1), 1) == Position(2, 0)
    assert history.step(Position(2, 0), -1) == Position(1, last_of_1)
    # Past the run's edges there is nowhere to go.
    assert history.step(Position(0, 0), -1) is None
    end = history.end()
    assert end is not None and history.step(end, 1) is None


def test_block_edges_and_neighbouring_blocks_land_where_the_keys_say():
    history = History.from_events(sample_events())
    here = Position(2, 5)
    assert history.block_edge(here, 1) == Position(2, history.last_index(2))
    assert history.block_edge(here, -1) == Position(2, 0)
    # The next or previous block is shown at its end: how it ended.
    assert history.other_block(here, 1) == Position(3, history.last_index(3))
    assert history.other_block(here, -1) == Position(1, history.last_index(1))
    assert history.other_block(Position(0, 0), -1) is None
    assert history.other_block(Position(4, 0), 1) is None


def test_live_history_keeps_the_tail_of_a_chatty_child():
    history = History(output_cap=100)
    events = sample_events()
    for event in events[:3]:
        history.record(event)
    for i in range(1000):
        history.record(ChildOutput(t=1.0, iteration=0, child=0, stream="stdout", line=f"l{i}"))
    kept = [e for e in history.events(0) if isinstance(e, ChildOutput)]
    assert len(kept) <= 100
    assert kept[-1].line == "l999"
    assert history.dropped(0) == 1000 - len(kept)
    view = history.view_at(Position(0, history.last_index(0)))
    assert view.block and "not kept" in view.block.children[0].lines[0]


def test_a_decision_says_which_child_ran_from_which_checkpoint_to_which():
    view = _fold_until(lambda e: isinstance(e, CheckpointReached) and e.child == 2)
    assert view.block is not None
    view.apply(
        ScheduleDecision(
            t=1.0, iteration=1, step=4, parked=[(1, "fs_written"), (2, "rm_x")], chosen=1,
            action="run",
        )
    )  # fmt: skip
    assert view.block.last_decision == "#1 ran from fs_written"
    view.apply(CheckpointReached(t=1.1, iteration=1, child=1, name="lockfile_written"))
    assert view.block.last_decision == "#1 ran from fs_written to lockfile_written"
    decision = [e for e in view.block.timeline if e.kind == "decision"][-1]
    assert (decision.lane, decision.text) == (1, "fs_written → lockfile_written")


def test_a_decision_shortens_the_paths_of_syscall_checkpoints():
    view = _fold_until(lambda e: isinstance(e, CheckpointReached) and e.child == 2)
    assert view.block is not None
    lockfile = "rename:extensions/models/upstream_extensions.json"
    model = "open:.swamp/pulled-extensions/@stress/beta/models/beta_model.json"
    view.apply(
        ScheduleDecision(t=1.0, iteration=1, step=4, parked=[(1, model)], chosen=1, action="run")
    )
    view.apply(CheckpointReached(t=1.1, iteration=1, child=1, name=lockfile))
    assert view.block.last_decision == (
        "#1 ran from open:…/models/beta_model.json to rename:…/models/upstream_extensions.json"
    )
    decision = [e for e in view.block.timeline if e.kind == "decision"][-1]
    assert decision.text == (
        "open:…/models/beta_model.json → rename:…/models/upstream_extensions.json"
    )
    # The child's pane keeps the exact name, as recorded.
    assert view.block.children[1].lines[-1].endswith(lockfile)
