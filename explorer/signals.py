"""Ctrl-C and SIGTERM as a call on the run's loop, for as long as a run lasts."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def signals_call(handler: Callable[[], None], *, enabled: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM call `handler` inside the block. Only the main thread may set
    signal handlers; elsewhere (or when not `enabled`: a face that owns them) this is a
    no-op."""
    installed: list[signal.Signals] = []
    if enabled and threading.current_thread() is threading.main_thread():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, handler)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            asyncio.get_running_loop().remove_signal_handler(sig)
