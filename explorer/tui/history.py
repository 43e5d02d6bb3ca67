"""The recorded blocks of a run and the way to any point inside them.

Live mode records every event here as it arrives (keeping only the tail of a
very chatty child's output: the trace on disk keeps everything); a replay reads
a trace's blocks on demand (`TraceHistory`, which reads its blocks through the
same few methods, `_block` and its kin). Either way `view_at(iteration, index)`
rebuilds exactly what the screen knew at that event, which is what stepping
forwards and backwards, jumping between breaks and selecting an old iteration
all use.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from explorer.events import (
    ChildOutput,
    Event,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    StateSnapshot,
)
from explorer.tui.child_view import NOTE
from explorer.tui.model import IterationSummary, RunView
from explorer.tui.state_view import StateView
from explorer.visible import visible_record

HISTORY_OUTPUT_CAP = 5000  # output events kept per child per block in live mode


@dataclass(frozen=True, order=True)
class Position:
    iteration: int
    index: int  # event index inside the block; 0 is its IterationStarted


@dataclass
class RecordedBlock:
    events: list[Event] = field(default_factory=list)
    outputs: dict[int, int] = field(default_factory=dict)  # child -> output events kept
    dropped: int = 0
    breaks: list[int] = field(default_factory=list)  # event indices `]` and `[` stop at
    diverged: int | None = None  # the first check that saw any break, in flux or not
    last_snapshot: StateSnapshot | None = None
    finished: IterationFinished | None = None


def is_break(event: Event) -> bool:
    """A check whose failure is a verdict, not a quiescent invariant still in flux."""
    if isinstance(event, InvariantChecked):
        return bool(event.breaks) and not (event.phase == "live" and event.when != "always")
    return False


def check_line_is_break(raw: bytes) -> bool:
    """`is_break` told from the bytes of a check's trace line, as the writer frames it (no
    spaces): a quote inside a JSON string is escaped, so `"phase":"live"` is that field."""
    if b'"breaks":[]' in raw:
        return False
    return not (b'"phase":"live"' in raw and b'"when":"always"' not in raw)


class History:
    def __init__(self, output_cap: int | None = HISTORY_OUTPUT_CAP) -> None:
        self.output_cap = output_cap
        self.run_started: RunStarted | None = None
        self.run_finished: RunFinished | None = None
        self._blocks: dict[int, RecordedBlock] = {}
        self._current: int | None = None
        self._summaries: dict[int, IterationSummary] | None = None

    @classmethod
    def from_events(cls, events: Iterable[Event], output_cap: int | None = None) -> History:
        history = cls(output_cap)
        for event in events:
            history.record(event)
        return history

    # --- recording ---------------------------------------------------------

    def record(self, event: Event) -> None:
        event = visible_record(event)  # written by children or a trace's author: shown, not obeyed
        if type(event) is ChildOutput and self._current is not None:
            # The hot path: a chatty child sends tens of thousands of these a second.
            block = self._blocks[self._current]
            if self.output_cap is not None:
                kept = block.outputs[event.child] = block.outputs.get(event.child, 0) + 1
                if kept > self.output_cap:
                    self._compact(block, event.child)
            block.events.append(event)
            return
        self._summaries = None
        if isinstance(event, RunStarted):
            self.run_started = event
            return
        if isinstance(event, RunFinished):
            self.run_finished = event
            return
        if isinstance(event, IterationStarted):
            self._current = event.iteration
            self._blocks[event.iteration] = RecordedBlock()
        if self._current is None:
            return
        block = self._blocks[self._current]
        if isinstance(event, StateSnapshot):
            block.last_snapshot = event
        elif isinstance(event, IterationFinished):
            block.finished = event
        here = len(block.events)
        if isinstance(event, InvariantChecked) and event.breaks and block.diverged is None:
            block.diverged = here
        if is_break(event):
            block.breaks.append(here)
        elif isinstance(event, IterationFinished) and event.breaks:
            # A failing block: its stops are the first moment the state diverged (though
            # a quiescent check then still called it "in flux"), its breaks, the verdict.
            if block.diverged is not None and block.diverged not in block.breaks:
                block.breaks.insert(0, block.diverged)
            block.breaks.append(here)
        block.events.append(event)

    def _compact(self, block: RecordedBlock, child: int) -> None:
        """Forget the older half of one child's kept output (amortised O(1) per line)."""
        drop = self.output_cap // 2 if self.output_cap else 0
        kept: list[Event] = []
        removed_before: list[int] = []
        removed = 0
        for event in block.events:
            if removed < drop and isinstance(event, ChildOutput) and event.child == child:
                removed += 1
            else:
                kept.append(event)
            removed_before.append(removed)
        block.breaks = [i - removed_before[i] for i in block.breaks]
        if block.diverged is not None:
            block.diverged -= removed_before[block.diverged]
        block.events = kept
        block.outputs[child] -= removed
        block.dropped += removed

    # --- the blocks, as everything below reads them (TraceHistory reads them lazily) ---

    @property
    def iterations(self) -> list[int]:
        return sorted(self._blocks)

    def block(self, iteration: int) -> RecordedBlock:
        return self._blocks[iteration]

    def _bounds(self, iteration: int) -> tuple[IterationStarted, IterationFinished | None]:
        """How a block began and how it ended (None: it did not)."""
        block = self._blocks[iteration]
        first = block.events[0]
        assert isinstance(first, IterationStarted)
        return first, block.finished

    def _break_blocks(self) -> list[int]:
        """The blocks, in order, that may hold a break stop (the others hold none)."""
        return [n for n, block in sorted(self._blocks.items()) if block.breaks]

    def _snapshot_blocks(self) -> list[int]:
        """The blocks, in order, that may hold a state snapshot (the others hold none)."""
        return [n for n, block in sorted(self._blocks.items()) if block.last_snapshot is not None]

    def take_warning(self) -> str | None:
        """What reading the blocks found wrong since last asked (a trace's unreadable lines)."""
        return None

    def check(self) -> Iterator[int]:
        """A check of every line the blocks come from, a step at a time, for the app to run
        between frames (`take_warning` then names what it found): a trace's; none live."""
        return iter(())

    # --- reading -----------------------------------------------------------

    def events(self, iteration: int) -> list[Event]:
        return self.block(iteration).events

    def dropped(self, iteration: int) -> int:
        return self.block(iteration).dropped

    def last_index(self, iteration: int) -> int:
        return len(self.block(iteration).events) - 1

    def end(self) -> Position | None:
        numbers = self.iterations
        if not numbers:
            return None
        return Position(numbers[-1], self.last_index(numbers[-1]))

    def summaries(self) -> dict[int, IterationSummary]:
        """Every recorded block's number, kind, duration and verdict."""
        if self._summaries is None:
            self._summaries = {}
            for n in self.iterations:
                first, finished = self._bounds(n)
                summary = IterationSummary(n, first.block, first.t)
                if finished is not None:
                    summary.duration, summary.verdict = finished.duration, finished.verdict
                    summary.breaks = list(finished.breaks)
                self._summaries[n] = summary
        return self._summaries

    # --- navigation: where a key press leads from `here` (None: nowhere to go) ---

    def step(self, here: Position, delta: int) -> Position | None:
        """One event forwards (+1) or backwards (-1), across into the next or previous block."""
        index = here.index + delta
        if 0 <= index <= self.last_index(here.iteration):
            return Position(here.iteration, index)
        if index < 0:
            earlier = self._block_after(here.iteration, -1)
            return None if earlier is None else Position(earlier, self.last_index(earlier))
        later = self._block_after(here.iteration, 1)
        return None if later is None else Position(later, 0)

    def block_edge(self, here: Position, direction: int) -> Position:
        """The last (+1) or first (-1) event of `here`'s block."""
        return Position(here.iteration, self.last_index(here.iteration) if direction > 0 else 0)

    def other_block(self, here: Position, direction: int) -> Position | None:
        """The end of the next (+1) or previous (-1) block: how it ended is what is shown."""
        n = self._block_after(here.iteration, direction)
        return None if n is None else Position(n, self.last_index(n))

    def _block_after(self, iteration: int, direction: int) -> int | None:
        numbers = self.iterations
        if direction > 0:
            at = bisect.bisect_right(numbers, iteration)
            return numbers[at] if at < len(numbers) else None
        at = bisect.bisect_left(numbers, iteration)
        return numbers[at - 1] if at > 0 else None

    def break_positions(self) -> list[Position]:
        """Every break stop (a replay reads each block that may hold one to tell them)."""
        return [Position(n, i) for n in self._break_blocks() for i in self.block(n).breaks]

    def next_break(self, after: Position) -> Position | None:
        for n in self._break_blocks():
            if n >= after.iteration:
                later = [i for i in self.block(n).breaks if Position(n, i) > after]
                if later:
                    return Position(n, later[0])
        return None

    def previous_break(self, before: Position) -> Position | None:
        for n in reversed(self._break_blocks()):
            if n <= before.iteration:
                earlier = [i for i in self.block(n).breaks if Position(n, i) < before]
                if earlier:
                    return Position(n, earlier[-1])
        return None

    def state_before(self, iteration: int) -> StateView:
        """The state the screen showed when the block began: the last earlier snapshot."""
        numbers = self._snapshot_blocks()
        for n in reversed(numbers[: bisect.bisect_left(numbers, iteration)]):
            snapshot = self.block(n).last_snapshot
            if snapshot is not None:
                return StateView(snapshot=snapshot)
        return StateView()

    def view_at(self, position: Position) -> RunView:
        """The screen's data as of event `position.index` of block `position.iteration`."""
        view = RunView()
        if self.run_started is not None:
            view.apply(self.run_started)
        # The iteration list of what was known before (copies: the view may change them).
        known, numbers = self.summaries(), self.iterations
        earlier = numbers[: bisect.bisect_left(numbers, position.iteration)]
        view.summaries = {n: copy.copy(known[n]) for n in earlier}
        events = self.events(position.iteration)
        first = events[0]
        assert isinstance(first, IterationStarted)
        view.apply(first)
        block = view.begin_block(first, self.state_before(position.iteration))
        if dropped := self.dropped(position.iteration):
            for child in block.children.values():
                child.add(
                    f"{NOTE}{dropped} earlier output lines of this block not kept (see the trace)"
                )
        for event in events[1 : position.index + 1]:
            view.apply(event)
        at_end = position.iteration == numbers[-1] and position.index == len(events) - 1
        if at_end and self.run_finished is not None:
            view.apply(self.run_finished)
        view.take_changes()
        return view
