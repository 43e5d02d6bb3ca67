"""Where a trace's lines are, found by searching its bytes rather than reading it line by line.

The writer starts every event line with `{"kind":"<kind>",` right after the newline that
ends the line before, and JSON escapes every quote and newline inside a string, so the
bytes `\\n{"kind":"<kind>",` occur exactly where a line of that kind starts (a corrupt
line may hold them too: it is then a line of its own, which its parse judges). A search
for them runs at the speed of copying memory (a 200 MB trace in a few hundredths of a
second) and never decodes the lines in between: this is how a trace of any size is
indexed by block, and how the app finds what its iteration list needs before the rest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from explorer.event_json import event_from_json
from explorer.events import IterationStarted, RunFinished


def kind_prefix(kind: str) -> bytes:
    """How the writer starts a line of this kind."""
    return b'{"kind":"%s",' % kind.encode()


WINDOW = 4 << 20  # bytes of the trace held at once while searching it


class TraceBytes:
    """A trace's bytes, to search; use as a context manager (it holds the file open).

    It reads a window of the file at a time into one buffer and searches that, so a
    sweep of a trace of any size holds a window's worth of it (read, not mapped: a
    mapping's pages count as the process's memory once touched, and cost a fault each).
    """

    def __init__(self, path: Path, body_start: int) -> None:
        self.body_start = body_start
        self._file = path.open("rb", buffering=0)
        self.size = os.fstat(self._file.fileno()).st_size
        self._buffer = bytearray(min(WINDOW, self.size))
        self._base, self._held = 0, 0  # the window holds bytes [base, base + held)

    def __enter__(self) -> TraceBytes:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def _read(self, base: int) -> None:
        self._file.seek(base)
        self._base, self._held = base, self._file.readinto(self._buffer) or 0

    def _find(self, needle: bytes, start: int, end: int) -> int:
        if not self._base <= start < self._base + self._held:
            self._read(start)
        while start < end:
            high = min(end, self._base + self._held)
            at = self._buffer.find(needle, start - self._base, high - self._base)
            if at != -1:
                return at + self._base
            if high >= end or self._held < len(self._buffer):  # or the file ended early
                break
            start = high - len(needle) + 1  # a match across the window's end
            self._read(start)
        return -1

    def _rfind(self, needle: bytes, start: int, end: int) -> int:
        if not self._base < end <= self._base + self._held:
            self._read(max(start, end - len(self._buffer)))
        while start < end:
            low, end = max(start, self._base), min(end, self._base + self._held)
            at = self._buffer.rfind(needle, low - self._base, end - self._base)
            if at != -1:
                return at + self._base
            if low <= start or self._held == 0:
                break
            end = low + len(needle) - 1  # a match across the window's start
            self._read(max(start, end - len(self._buffer)))
        return -1

    def lines(self, kind: str, start: int | None = None, end: int | None = None) -> Iterator[int]:
        """The offsets of the lines of `kind` that start in [start, end), in order."""
        needle = b"\n" + kind_prefix(kind)
        stop = self.size if end is None else end
        at = self._find(needle, max(self.body_start, start or 0) - 1, stop)
        while at != -1:
            yield at + 1
            at = self._find(needle, at + 1, stop)

    def first(self, kind: str, start: int, end: int, containing: bytes | None = None,
              where: Callable[[bytes], bool] = lambda raw: True) -> int | None:
        """The offset of the first line of `kind` in [start, end) that holds `containing`
        (bytes only the JSON's structure can hold) and for whose bytes `where` is true."""
        if containing is None:
            return next((at for at in self.lines(kind, start, end) if where(self.line(at))),
                        None)
        prefix = kind_prefix(kind)
        hit = self._find(containing, start, end)
        while hit != -1:
            at = self._rfind(b"\n", start - 1, hit) + 1
            raw = self.line(at)
            if raw.startswith(prefix) and where(raw):
                return at
            hit = self._find(containing, at + len(raw), end)
        return None

    def last(self, kind: str, start: int | None = None, end: int | None = None) -> int | None:
        """The offset of the last line of `kind` that starts in [start, end)."""
        at = self._rfind(b"\n" + kind_prefix(kind), max(self.body_start, start or 0) - 1,
                         self.size if end is None else end)
        return None if at == -1 else at + 1

    def cut_short(self) -> int | None:
        """Where the last line starts if it has no newline (the writer stopped in it)."""
        if self.size <= self.body_start or self._rfind(b"\n", self.size - 1, self.size) != -1:
            return None
        return self._rfind(b"\n", self.body_start - 1, self.size) + 1

    def line(self, offset: int) -> bytes:
        """The line that starts at `offset`, with its newline if it has one."""
        end = self._find(b"\n", offset, self.size)
        end = self.size if end == -1 else end + 1
        if self._base <= offset and end <= self._base + self._held:
            return bytes(self._buffer[offset - self._base:end - self._base])
        return os.pread(self._file.fileno(), end - offset, offset)


def index_blocks(data: TraceBytes) -> tuple[dict[int, tuple[int, int]],
                                             dict[int, IterationStarted]]:
    """Each block's [start, end) and first event, from the lines that start one (parsed
    alone); the run's end closes the block it falls in. A bad start line is left to the
    read of the block it then falls in to name: reading one block names only what it reads."""
    found: list[tuple[int, int]] = []  # (iteration, offset)
    starts: dict[int, IterationStarted] = {}
    for offset in data.lines(IterationStarted.kind):
        raw = data.line(offset)
        with contextlib.suppress(ValueError):
            event = event_from_json(raw) if raw.endswith(b"\n") else None
            if isinstance(event, IterationStarted):
                found.append((event.iteration, offset))
                starts[event.iteration] = event
    finished_at = data.last(RunFinished.kind)
    blocks: dict[int, tuple[int, int]] = {}
    for pos, (iteration, start) in enumerate(found):
        nxt = found[pos + 1][1] if pos + 1 < len(found) else data.size
        if finished_at is not None and start < finished_at < nxt:
            nxt = finished_at
        blocks[iteration] = (start, nxt)
    return blocks, starts
