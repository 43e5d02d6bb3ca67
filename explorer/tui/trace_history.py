"""A recorded run opened for replay: its outline read up front, its blocks on demand.

Opening a trace parses only what the iteration list and the header show (each block's
start and end, the run's start and end), found by searching the trace's bytes (see
explorer/trace_index.py), and tells from those bytes alone which blocks hold a state
snapshot or a check that found a break. Checking that every other line is framed as an
event takes a pass over the whole trace: `check` does it a step at a time, for the app
to run after the list is on screen. A block's events are read (through the index) when
the screen goes to it, and only the last few blocks read are kept: a trace of any size
opens at once, in bounded memory.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from explorer.events import (
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    StateSnapshot,
)
from explorer.trace import TraceReader
from explorer.tui.history import History, RecordedBlock, check_line_is_break

_E = TypeVar("_E", RunStarted, RunFinished, IterationFinished)

BLOCKS_KEPT = 8  # blocks whose events stay loaded: the one shown and those just visited
# A check's line holds this only when the check found a break (quotes in strings are escaped).
_SOME_BREAK = b'"breaks":[{'


@dataclass
class _Outline:
    """One block as the iteration list and the navigation know it before it is read."""

    started: IterationStarted
    finished: IterationFinished | None = None
    snapshots: bool = False  # the block may hold a state snapshot
    may_break: bool = False  # the block may hold a break stop


class TraceHistory(History):
    """The `History` of a trace, reading each block from it when asked for one."""

    def __init__(self, reader: TraceReader, kept: int = BLOCKS_KEPT) -> None:
        super().__init__(output_cap=None)
        self.reader = reader
        self.kept = kept
        self._loaded: OrderedDict[int, RecordedBlock] = OrderedDict()
        collecting = gc.isenabled()
        gc.disable()  # thousands of objects and no cycles: nothing for the collector to find
        try:
            self._outline = self._read_outline()
        finally:
            if collecting:
                gc.enable()
        self._numbers = list(self._outline)
        self._breaking = [n for n in self._numbers if self._outline[n].may_break]
        self._snapshotted = [n for n in self._numbers if self._outline[n].snapshots]
        self._skips_told = len(reader.skipped)

    def _read_outline(self) -> dict[int, _Outline]:
        """Each block's start and end events and whether it holds a snapshot or a break,
        found by searching the trace's bytes within the block's range."""
        reader = self.reader
        reader.check_end()
        outline: dict[int, _Outline] = {}
        with reader.searching() as data:
            if (at := data.first(RunStarted.kind, data.body_start, data.size)) is not None:
                self.run_started = _parsed(reader, at, data.line(at), RunStarted)
            if (at := data.last(RunFinished.kind)) is not None:
                self.run_finished = _parsed(reader, at, data.line(at), RunFinished)
            for n, (started, start, end) in sorted(reader.blocks().items()):
                block = outline[n] = _Outline(started)
                # Its last line, as a rule: found from the end at once.
                if (at := data.last(IterationFinished.kind, start, end)) is not None:
                    finished = _parsed(reader, at, data.line(at), IterationFinished)
                    if finished is not None and finished.iteration == n:
                        block.finished = finished
                        block.may_break = bool(finished.breaks)
                block.snapshots = data.first(StateSnapshot.kind, start, end) is not None
                # A bad line flagged here only costs the navigation one needless read.
                block.may_break = block.may_break or data.first(
                    InvariantChecked.kind, start, end, _SOME_BREAK, check_line_is_break
                ) is not None
        return outline

    def check(self) -> Iterator[int]:
        return self.reader.check_lines()

    @property
    def loaded(self) -> list[int]:
        """The blocks whose events are held now, least recently used first."""
        return list(self._loaded)

    # --- the blocks, as History's navigation reads them ---------------------------

    @property
    def iterations(self) -> list[int]:
        return self._numbers

    def block(self, iteration: int) -> RecordedBlock:
        block = self._loaded.get(iteration)
        if block is not None:
            self._loaded.move_to_end(iteration)
            return block
        if iteration not in self._outline:
            raise KeyError(f"iteration {iteration} is not in {self.reader.path}")
        one = History(output_cap=None)
        for event in self.reader.iteration_events(iteration):
            one.record(event)
        block = one.block(iteration)
        self._loaded[iteration] = block
        while len(self._loaded) > self.kept:
            self._loaded.popitem(last=False)
        return block

    def _bounds(self, iteration: int) -> tuple[IterationStarted, IterationFinished | None]:
        outline = self._outline[iteration]
        return outline.started, outline.finished

    def _break_blocks(self) -> list[int]:
        return self._breaking

    def _snapshot_blocks(self) -> list[int]:
        return self._snapshotted

    def take_warning(self) -> str | None:
        """A line found unreadable since last asked (a block's read checks every field of its
        lines, `check` the framing of every line): the reader's warning, which names it."""
        skipped = len(self.reader.skipped)
        if skipped == self._skips_told:
            return None
        self._skips_told = skipped
        return self.reader.warning


def _parsed(reader: TraceReader, offset: int, raw: bytes, kind: type[_E]) -> _E | None:
    """The event of that line if it is one of `kind` (else it is skipped, or ignored)."""
    event = reader.event_from_line(offset, raw)
    return event if isinstance(event, kind) else None
