"""A recorded run opened for replay: its outline read up front, its blocks on demand.

Opening a trace streams it once, parsing only what the iteration list and the header
show (each block's start and end, the run's start and end) and telling from a line's
bytes alone which blocks hold a state snapshot or a check that found a break; the same
pass leaves the reader its byte-offset index and names every line that is not framed as
an event. A block's events are read (through the index) when the screen goes to it, and
only the last few blocks read are kept: a trace of any size opens at once, in bounded
memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from explorer.events import (
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    StateSnapshot,
)
from explorer.trace import TraceReader
from explorer.tui.history import History, RecordedBlock, check_line_is_break, is_break

BLOCKS_KEPT = 8  # blocks whose events stay loaded: the one shown and those just visited

# What the outline reads: its lines of snapshots and checks are only skimmed (their bytes
# tell whether a block holds one, or a break), the others parsed.
OUTLINE_KINDS = frozenset(k.kind for k in (
    RunStarted, RunFinished, IterationStarted, IterationFinished, InvariantChecked, StateSnapshot,
))
_SNAPSHOT_PREFIX = b'{"kind":"%s",' % StateSnapshot.kind.encode()
_CHECK_PREFIX = b'{"kind":"%s",' % InvariantChecked.kind.encode()


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
        self._outline: dict[int, _Outline] = {}
        self._loaded: OrderedDict[int, RecordedBlock] = OrderedDict()
        self._read_outline()
        indexed = set(reader.iterations)  # the pass left the index behind: no second read
        self._outline = {n: o for n, o in sorted(self._outline.items()) if n in indexed}
        self._numbers = list(self._outline)
        self._breaking = [n for n in self._numbers if self._outline[n].may_break]
        self._snapshotted = [n for n in self._numbers if self._outline[n].snapshots]
        self._skips_told = len(reader.skipped)

    def _read_outline(self) -> None:
        current: _Outline | None = None

        def skim(raw: bytes) -> bool:
            if raw.startswith(_SNAPSHOT_PREFIX):
                if current is not None:
                    current.snapshots = True
                return True
            if raw.startswith(_CHECK_PREFIX):
                # A bad line flagged here only costs the navigation one needless read.
                if current is not None and check_line_is_break(raw):
                    current.may_break = True
                return True
            return False

        for event in self.reader.iter_events(OUTLINE_KINDS, skim):
            if isinstance(event, RunStarted):
                self.run_started = event
            elif isinstance(event, RunFinished):
                self.run_finished = event
            elif isinstance(event, IterationStarted):
                current = self._outline[event.iteration] = _Outline(event)
            elif current is None or getattr(event, "iteration", None) != current.started.iteration:
                continue  # reading the block leaves it out too
            elif isinstance(event, IterationFinished):
                current.finished = event
                current.may_break = current.may_break or bool(event.breaks)
            elif isinstance(event, StateSnapshot):
                current.snapshots = True
            elif is_break(event):
                current.may_break = True

    @property
    def loaded(self) -> list[int]:
        """The blocks whose events are held now, least recently used first."""
        return list(self._loaded)

    # --- the blocks, as History's navigation reads them ---------------------------

    @property
    def iterations(self) -> list[int]:
        return self._numbers

    def _block(self, iteration: int) -> RecordedBlock:
        block = self._loaded.get(iteration)
        if block is not None:
            self._loaded.move_to_end(iteration)
            return block
        if iteration not in self._outline:
            raise KeyError(f"iteration {iteration} is not in {self.reader.path}")
        one = History(output_cap=None)
        for event in self.reader.iteration_events(iteration):
            one.record(event)
        block = one._block(iteration)
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
        """A line found unreadable since last asked (only a block's read checks every field
        of every line): the reader's warning, which names it."""
        skipped = len(self.reader.skipped)
        if skipped == self._skips_told:
            return None
        self._skips_told = skipped
        return self.reader.warning
