"""The run's work dir: a temporary one removed after the run, or the one given, held.

A given `--work-dir` is locked (flock on a file in it holding the pid) for as
long as the run lasts: a second run started on it at the same time would share
the repo dir and report no break, so it is refused, naming the first one's pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from explorer.request import RunError

LOCK_NAME = ".race-explorer.lock"


@contextlib.contextmanager
def work_dir(given: Path | None) -> Iterator[Path]:
    """The dir to work in, for the duration of the block; RunError if it is held by
    another run or cannot be made."""
    if given is None:
        made = Path(tempfile.mkdtemp(prefix="race-explorer-"))
        try:
            yield made
        finally:
            shutil.rmtree(made, ignore_errors=True)
        return
    lock = given / LOCK_NAME
    try:
        given.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise RunError(f"cannot use the work dir {given}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            other = os.read(fd, 32).decode("ascii", "replace").strip()
            raise RunError(f"the work dir {given} is in use by another run"
                           + (f" (pid {other})" if other.isdigit() else "")
                           + ": give another --work-dir") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield given
    finally:
        os.close(fd)  # the lock goes with it
