"""The trace: one header line, then one event a line, as the run happened.

The writer flushes every event (a crash loses at most the line being
written) and fsyncs at each iteration's end. The reader indexes iterations by
byte offset, parsing only the lines that start an iteration, so a large trace
opens fast; a truncated or garbled tail is cut at the last good event and
reported in `warning` instead of failing the whole read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import explorer
from explorer.events import Event, IterationFinished, RunFinished, event_from_json

FORMAT = "race-explorer-trace"
FORMAT_VERSION = 1
_ITERATION_PREFIX = b'{"kind":"iteration_started",'
_RUN_FINISHED_PREFIX = b'{"kind":"run_finished",'
TAIL_WINDOW = 4096  # lines searched back for the last good event


class TraceError(Exception):
    """The file is not a readable trace at all (no valid header)."""


def make_header(
    *, scenario: str, scenario_path: str | None, seed: int, argv: list[str] | None = None
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "explorer": explorer.__version__,
        "scenario": scenario,
        "scenario_path": scenario_path,
        "seed": seed,
        "argv": list(sys.argv if argv is None else argv),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
    }


def default_trace_path(scenario: str, base: Path | None = None) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in scenario)
    return (base or Path.cwd()) / ".race-explorer" / "runs" / f"{stamp}-{safe}.jsonl"


def _shown(trace: Path) -> str:
    try:
        shown = trace.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):  # outside the cwd, or the cwd is gone
        shown = trace
    return shlex.quote(str(shown))


def replay_command(trace: Path, iteration: int, *, rerun: bool = False) -> str:
    """The exact command that replays one block of a trace (relative to cwd when inside it);
    with `rerun`, re-executes it under its recorded schedule instead of showing it."""
    again = " --rerun" if rerun else ""
    return f"race-explorer replay {_shown(trace)} --iteration {iteration}{again}"


def shrink_command(trace: Path, iteration: int) -> str:
    return f"race-explorer shrink {_shown(trace)} --iteration {iteration}"


class TraceWriter:
    """A consumer that records every event; use as a context manager or call close()."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("w", encoding="utf-8", newline="\n")
        self._fsync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace-fsync")
        self._syncing: Future[None] | None = None
        self._write_line(json.dumps(header, ensure_ascii=False, separators=(",", ":")))
        self.sync()

    def _write_line(self, line: str) -> None:
        if self._file is None:
            return
        self._file.write(line + "\n")
        self._file.flush()

    def __call__(self, event: Event) -> None:
        self._write_line(event.to_json())
        if isinstance(event, IterationFinished):
            self._sync_soon()
        elif isinstance(event, RunFinished):
            self.sync()

    def _sync_soon(self) -> None:
        """fsync off the runner's path: the data is already in the kernel (flushed); the
        disk catches up while the next iteration starts."""
        if self._file is None:
            return
        self._file.flush()
        if self._syncing is None or self._syncing.done():
            self._syncing = self._fsync_pool.submit(os.fsync, self._file.fileno())

    def sync(self) -> None:
        """Flush and fsync now (and wait for a background fsync in flight)."""
        if self._file is not None:
            self._file.flush()
            if self._syncing is not None:
                self._syncing.result()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None
            self._fsync_pool.shutdown()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TraceReader:
    """Random access to a recorded run, one iteration at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warning: str | None = None
        self._offsets: dict[int, tuple[int, int]] = {}  # iteration -> [start, end) bytes
        self._body_start = 0
        self._end = 0
        self._index()

    @property
    def iterations(self) -> list[int]:
        return list(self._offsets)

    def _index(self) -> None:
        starts: list[tuple[int, int]] = []  # (iteration, offset)
        # (offset, length incl. newline) of the last complete lines: where a bad tail is sought
        lines: deque[tuple[int, int]] = deque(maxlen=TAIL_WINDOW)
        with self.path.open("rb") as f:
            header_line = f.readline()
            try:
                header = json.loads(header_line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise TraceError(f"{self.path}: not a race-explorer trace (bad header)") from exc
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise TraceError(f"{self.path}: not a race-explorer trace (bad header)")
            if header.get("version", 0) > FORMAT_VERSION:
                raise TraceError(f"{self.path}: trace format {header.get('version')} is newer "
                                 f"than this explorer reads ({FORMAT_VERSION})")
            self.header: dict[str, Any] = header
            offset = self._body_start = len(header_line)
            truncated = False
            finished_at: int | None = None
            for raw in f:
                if not raw.endswith(b"\n"):
                    truncated = True  # the writer died mid-line
                    break
                if raw.startswith(_ITERATION_PREFIX):
                    try:
                        event = json.loads(raw)
                        starts.append((int(event["iteration"]), offset))
                    except (ValueError, KeyError, TypeError):
                        pass  # garbled: the tail check below decides where the good part ends
                elif raw.startswith(_RUN_FINISHED_PREFIX):
                    finished_at = offset
                lines.append((offset, len(raw)))
                offset += len(raw)
        self._end = self._good_end(lines, truncated)
        last_end = min(finished_at, self._end) if finished_at is not None else self._end
        for pos, (iteration, start) in enumerate(starts):
            if start >= self._end:
                break
            nxt = starts[pos + 1][1] if pos + 1 < len(starts) else last_end
            self._offsets[iteration] = (start, min(nxt, self._end))

    def _good_end(self, lines: deque[tuple[int, int]], truncated: bool) -> int:
        """Byte offset just past the last event that parses; sets `warning` if any was cut."""
        with self.path.open("rb") as f:
            for back, (offset, length) in enumerate(reversed(lines)):
                f.seek(offset)
                try:
                    event_from_json(f.read(length).decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    continue
                dropped = back + (1 if truncated else 0)
                if dropped:
                    self.warning = (f"{self.path}: the trace ends in {dropped} unreadable "
                                    f"line(s); read up to the last good event at byte "
                                    f"{offset + length}")
                return offset + length
        if len(lines) == lines.maxlen:  # a long bad tail: keep what precedes it
            self.warning = (f"{self.path}: the last {len(lines)} lines are unreadable; "
                            f"read up to byte {lines[0][0]}")
            return lines[0][0]
        if lines or truncated:
            self.warning = f"{self.path}: no readable event after the header"
        return self._body_start

    def _read(self, start: int, end: int) -> Iterator[Event]:
        with self.path.open("rb") as f:
            f.seek(start)
            while f.tell() < end:
                raw = f.readline()
                try:
                    yield event_from_json(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    self.warning = (f"{self.path}: unreadable line at byte {f.tell() - len(raw)};"
                                    " stopped there")
                    return

    def events(self) -> list[Event]:
        """Every readable event, in recorded order."""
        return list(self._read(self._body_start, self._end))

    def iteration_events(self, iteration: int) -> list[Event]:
        """One block's events (setup 0, iterations 1..N, reconcile N+1), via the index."""
        try:
            start, end = self._offsets[iteration]
        except KeyError:
            raise KeyError(f"iteration {iteration} is not in {self.path} "
                           f"(recorded: {self.iterations})") from None
        return list(self._read(start, end))
