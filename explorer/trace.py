"""The trace: one header line, then one event a line, as the run happened.

The writer writes every event as it comes (a crash loses at most the line
being written) and fsyncs at each iteration's end; it holds a lock on the file,
so two runs never write into one trace. The reader indexes iterations by
byte offset, finding the lines that start one by searching the file's bytes
(explorer/trace_index.py), so one block of a large trace reads fast, and
streams the whole run for a summary. A line that is not a valid event,
wherever it is, is skipped and named by its byte offset in `warning` instead
of failing (or silently ending) the read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shlex
import sys
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import explorer
from explorer.event_json import event_from_json
from explorer.events import EVENT_TYPES, Event, IterationFinished, IterationStarted, RunFinished
from explorer.trace_index import TraceBytes, index_blocks, kind_prefix

FORMAT = "race-explorer-trace"
FORMAT_VERSION = 1
CHECK_STEP = 1 << 20  # bytes `check_lines` checks between two yields (a few ms)
_CUT_SHORT = "cut short: no end of line (the writer stopped?)"
SKIPS_SHOWN = 3  # skipped lines described in the warning; the rest are counted


class TraceError(Exception):
    """The file is not a readable trace at all (no valid header)."""


def make_header(
    *, scenario: str, scenario_path: str | None, seed: int, argv: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`extra`: what the run says about its work (its options, its shard), for `merge`."""
    return {
        **(extra or {}),
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "explorer": explorer.__version__,
        "scenario": scenario,
        "scenario_path": scenario_path,
        "seed": seed,
        "pid": os.getpid(),  # named to a second run given the same trace
        "argv": list(sys.argv if argv is None else argv),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
    }


def default_trace_path(scenario: str, base: Path | None = None) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in scenario)
    return (base or Path.cwd()) / ".race-explorer" / "runs" / f"{stamp}-{safe}.jsonl"


def explorer_executable() -> str:
    """How to start this same explorer from any directory, quoted for a shell: the
    `race-explorer` script that is running (or the one installed beside this Python), else
    this Python with `-m explorer`."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "race-explorer" and argv0.is_file():
        return shlex.quote(str(argv0.absolute()))
    beside = Path(sys.executable).parent / "race-explorer"
    if beside.is_file():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m explorer"


def _shown(trace: Path) -> str:
    # Absolute, so a command copied from a CI log works from whatever dir it is pasted in.
    return shlex.quote(str(Path(trace).absolute()))


def replay_command(trace: Path, iteration: int, *, rerun: bool = False) -> str:
    """The exact command that replays one block of a trace, absolute and copy-pasteable; with
    `rerun`, re-executes it headless under its recorded schedule instead of showing it."""
    again = " --rerun" if rerun else ""
    return f"{explorer_executable()} replay {_shown(trace)} --iteration {iteration}{again}"


def why_command(trace: Path, iteration: int) -> str:
    """The command that prints the causal steps of one iteration's break."""
    return (f"{explorer_executable()} replay {_shown(trace)} --headless "
            f"--iteration {iteration} --why")


def shrink_command(trace: Path, iteration: int) -> str:
    return f"{explorer_executable()} shrink {_shown(trace)} --iteration {iteration}"


class TraceBusy(Exception):
    """Another live run is writing to the same trace."""


class TraceUnwritable(Exception):
    """The trace cannot be created or written to (a full disk, a read-only dir)."""


def _writer_pid(path: Path) -> int | None:
    """The pid in a trace's header, if it has one."""
    try:
        with path.open("rb") as f:
            header = json.loads(f.readline())
    except (OSError, ValueError):
        return None
    pid = header.get("pid") if isinstance(header, dict) else None
    return pid if isinstance(pid, int) else None


class TraceWriter:
    """A consumer that records every event; use as a context manager or call close().

    The file is locked (flock) while it is written: a second run given the same path gets
    TraceBusy instead of interleaving its lines. A write that fails (ENOSPC, EIO) cuts the
    file back to its last whole line, stops recording and calls `on_failure`; `failure`
    says why. Each line is one write(2) of its own: no buffer is left to flush at the end.
    """

    def __init__(self, path: Path, header: dict[str, Any],
                 on_failure: Callable[[], None] = lambda: None) -> None:
        self.path = path
        self.failure: str | None = None
        self._on_failure = on_failure
        try:
            with contextlib.suppress(FileExistsError):  # a file there: open says ENOTDIR
                path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise TraceUnwritable(f"cannot write the trace {path}: {_reason(exc)}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            other = _writer_pid(path)
            raise TraceBusy(f"the trace {path} is being written by another run"
                            + (f" (pid {other})" if other else "")
                            + ": give another --trace") from exc
        self._fd: int | None = fd
        self._written = 0  # bytes of whole lines in the file
        self._fsync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace-fsync")
        self._syncing: Future[None] | None = None
        os.ftruncate(fd, 0)  # only now: the lock says no live run owns what was there
        self._write_line(json.dumps(header, ensure_ascii=False, separators=(",", ":")))
        self.sync()
        if self.failure is not None:
            raise TraceUnwritable(self.failure)

    def _write_line(self, line: str) -> None:
        if self._fd is None:
            return
        encoded = (line + "\n").encode("utf-8")
        data = memoryview(encoded)
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            self._fail(exc)
        else:
            self._written += len(encoded)

    def _fail(self, exc: OSError) -> None:
        """Stop recording: the file keeps its whole lines, the run is told."""
        fd, self._fd = self._fd, None
        self.failure = f"cannot write the trace {self.path}: {_reason(exc)}"
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._written)  # a torn last line would read as garbage
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fsync_pool.shutdown(wait=False)
        self._on_failure()

    def __call__(self, event: Event) -> None:
        self._write_line(event.to_json())
        if isinstance(event, IterationFinished):
            self._sync_soon()
        elif isinstance(event, RunFinished):
            self.sync()

    def _sync_soon(self) -> None:
        """fsync off the runner's path: the data is already in the kernel; the disk catches
        up while the next iteration starts."""
        if self._fd is None:
            return
        if self._syncing is None or self._syncing.done():
            self._syncing = self._fsync_pool.submit(os.fsync, self._fd)

    def sync(self) -> None:
        """fsync now (and wait for a background fsync in flight)."""
        if self._fd is None:
            return
        try:
            if self._syncing is not None:
                self._syncing.result()
            os.fsync(self._fd)
        except OSError as exc:  # EIO, or ENOSPC reported late by the filesystem
            self._fail(exc)

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with it
            self._fd = None
            self._fsync_pool.shutdown()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(frozen=True)
class SkippedLine:
    """A line of the trace the reader could not use, left out of every account."""

    offset: int  # the byte it starts at
    length: int  # bytes skipped
    reason: str
    sample: bytes  # its first bytes, shown escaped

    def describe(self) -> str:
        return (f"byte {self.offset}: {self.length} byte(s) skipped, {self.reason} "
                f"(starts {self.sample!r})")


class TraceReader:
    """Random access to a recorded run, one iteration at a time.

    A line that is not a valid event (torn, garbled, of an unknown kind, with a field of the
    wrong type) is skipped wherever it is, and the lines after it are still read; every one
    skipped so far is in `skipped`, and `warning` says which, by byte offset. Lines are only
    read when asked for, so check `skipped` after reading what the account needs.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._skipped: dict[int, SkippedLine] = {}
        self._blocks: dict[int, tuple[int, int]] | None = None  # iteration -> [start, end)
        self._starts: dict[int, IterationStarted] = {}  # iteration -> its first event
        with self.path.open("rb") as f:
            header_line = f.readline()
        try:
            header = json.loads(header_line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TraceError(f"{self.path}: not a race-explorer trace (bad header)") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise TraceError(f"{self.path}: not a race-explorer trace (bad header)")
        version = header.get("version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise TraceError(f"{self.path}: trace format {version!r} is newer "
                             f"than this explorer reads ({FORMAT_VERSION})")
        self.header: dict[str, Any] = header
        self._body_start = len(header_line)

    @property
    def skipped(self) -> list[SkippedLine]:
        return sorted(self._skipped.values(), key=lambda s: s.offset)

    @property
    def warning(self) -> str | None:
        """One line naming what was skipped so far, or None if nothing was."""
        skipped = self.skipped
        if not skipped:
            return None
        shown = "; ".join(s.describe() for s in skipped[:SKIPS_SHOWN])
        more = len(skipped) - SKIPS_SHOWN
        return (f"{self.path}: {len(skipped)} unreadable line(s) "
                f"({sum(s.length for s in skipped)} bytes) left out of the account: {shown}"
                + (f"; and {more} more" if more > 0 else ""))

    @property
    def iterations(self) -> list[int]:
        return list(self._index())

    def _index(self) -> dict[int, tuple[int, int]]:
        """Each block's byte range (see `index_blocks`), on first use."""
        if self._blocks is None:
            with self.searching() as data:
                self._blocks, self._starts = index_blocks(data)
        return self._blocks

    def check_end(self) -> None:
        """Name the last line if the writer stopped in the middle of it (free at any size)."""
        with self.searching() as data:
            if (start := data.cut_short()) is not None:
                self._skip(start, data.line(start), _CUT_SHORT)

    def blocks(self) -> dict[int, tuple[IterationStarted, int, int]]:
        """Each indexed block's first event and the range [start, end) of its bytes."""
        return {n: (self._starts[n], *span) for n, span in self._index().items()}

    def searching(self) -> TraceBytes:
        """The trace's bytes, to search (a context manager: see `TraceBytes`)."""
        return TraceBytes(self.path, self._body_start)

    def event_from_line(self, offset: int, raw: bytes) -> Event | None:
        """The event of the line `raw` at `offset`, or None: the line is skipped."""
        try:
            return event_from_json(raw)
        except ValueError as exc:
            self._skip(offset, raw, str(exc))
            return None

    def _skip(self, offset: int, raw: bytes, reason: str) -> None:
        self._skipped[offset] = SkippedLine(offset, len(raw), reason, raw[:32])

    def _read(self, start: int, end: int | None = None, kinds: Collection[str] | None = None,
              skim: Callable[[bytes], bool] | None = None) -> Iterator[Event]:
        offset = start
        # Lines of the kinds not asked for, as the writer frames them (kind first).
        others = tuple(kind_prefix(k) for k in EVENT_TYPES if kinds is not None and k not in kinds)
        with self.path.open("rb") as f:
            f.seek(start)
            for raw in f:
                if end is not None and offset >= end:
                    return
                here, offset = offset, offset + len(raw)
                if not raw.endswith(b"\n"):
                    self._skip(here, raw, _CUT_SHORT)
                    continue
                if ((others and raw.startswith(others)) or (skim is not None and skim(raw))) \
                        and raw.endswith(b"}\n") and (raw.isascii() or _is_utf8(raw)):
                    continue
                event = self.event_from_line(here, raw)
                if event is not None:
                    yield event

    def check_lines(self, step: int = CHECK_STEP) -> Iterator[int]:
        """Check that every line is one event framed as written (what a summary checks of
        the lines it does not parse), naming the others in `skipped`; yields the offset
        reached every `step` bytes or so, for a caller that spreads the work out."""
        with self.path.open("rb") as f:
            start, size = self._body_start, os.fstat(f.fileno()).st_size
            while start < size:
                f.seek(start + step)
                f.readline()  # the next line boundary
                end = min(f.tell(), size)
                for _ in self._read(start, end, kinds=()):
                    pass  # a line framed otherwise that is still an event: nothing to name
                yield end
                start = end

    def iter_events(self, kinds: Collection[str] | None = None,
                    skim: Callable[[bytes], bool] | None = None) -> Iterator[Event]:
        """Every readable event in recorded order, one at a time (bounded memory).

        With `kinds`, only events of those kinds are parsed and checked in full; a line of
        another kind is only checked to be one framed event of a known kind in UTF-8, which
        is what lets a summary of a large trace skip the bulk of it (output, snapshots).
        `skim(line)` true says the same of a line of a kind asked for, whose bytes told the
        caller enough (it must be given only lines of known kinds, framed as written).
        """
        return self._read(self._body_start, kinds=kinds, skim=skim)

    def events(self) -> list[Event]:
        """Every readable event, in recorded order."""
        return list(self.iter_events())

    def iteration_events(self, iteration: int) -> list[Event]:
        """One block's events (setup 0, iterations 1..N, reconcile N+1), via the index."""
        try:
            start, end = self._index()[iteration]
        except KeyError:
            raise KeyError(f"iteration {iteration} is not in {self.path} "
                           f"(recorded: {self.iterations})") from None
        # A block whose start line is unreadable runs on inside the one before it.
        return [e for e in self._read(start, end) if getattr(e, "iteration", None) == iteration]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
