"""The explorer's end of syscall checkpoints: holds the children's calls under the roots.

Same shape as `CheckpointServer` (explorer/scheduling/server.py), so the controlled scheduler
can use either: `on_arrival(Arrival)` when a child parks at a held call, `release(child)` to
let that call run, `on_disconnect(child)` when no process of the child is left. In place of
an environment, `wrap(child, argv)` gives the command that runs the target under the filter.

Each child has its own listener (the filter is inherited by its threads and subprocesses,
so all their calls come to it). A child is parked while one held call of any of its threads
waits for a release; the child's further held calls queue behind it, and the first of them
still waiting becomes the next arrival when it is released. Every notification, held or
passed at once, is a sign of life (`on_activity`): a child busy outside the roots is not
stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from explorer.intercept import abi, launcher
from explorer.intercept.calls import decode
from explorer.intercept.options import Roots, SyscallOptions
from explorer.intercept.retries import (
    SPIN_ROUND,
    Attempt,
    attempt,
    blocked_lock,
    looks,
    spin_window,
    waits,
)
from explorer.scheduling.checkpoints import Arrival


@dataclass(frozen=True)
class SyscallArrival(Arrival):
    """A held call. `name` is `<call>:<path relative to its root>`."""

    call: str = ""  # the family the name starts with: open, rename, lock...
    syscall: str = ""  # the kernel's name for it: openat, renameat2, fcntl...
    tid: int = 0  # the calling thread (in a subprocess of the child, that process's thread)
    path: str = ""  # the absolute path the name is made from
    other_path: str = ""  # rename and link: the other of the two paths


@dataclass
class CallCounts:
    """Per child: notifications held as checkpoints, and passed at once."""

    held: int = 0
    passed: int = 0
    by_call: Counter[str] = field(default_factory=Counter)  # held ones, by family


@dataclass
class _Held:
    notif_id: int
    arrival: SyscallArrival


@dataclass
class _Listener:
    child: int
    fd: int
    poll: select.poll
    notif: abi.SeccompNotif = field(default_factory=abi.SeccompNotif)
    parked: _Held | None = None
    queued: deque[_Held] = field(default_factory=deque)
    # each thread's last held attempts (looks left out), newest last
    recent: dict[int, deque[Attempt]] = field(default_factory=dict)


class SyscallSupervisor:
    """Holds the children's calls in `options`' groups under its roots. `counts[child]`:
    how many of its notifications were held and passed; `pid(child)`: its process."""

    def __init__(
        self,
        on_arrival: Callable[[Arrival], None],
        on_disconnect: Callable[[int], None],
        on_activity: Callable[[int], None] | None = None,
        *,
        options: SyscallOptions,
    ) -> None:
        self._on_arrival = on_arrival
        self._on_disconnect = on_disconnect
        self._on_activity = on_activity or (lambda child: None)
        self.options = options
        self._roots = Roots(options.roots)
        self._groups = frozenset(options.groups)
        self._dir = tempfile.mkdtemp(prefix="race-explorer-")
        self.path = str(Path(self._dir) / "listeners.sock")
        self._socket: socket.socket | None = None
        self._pending: dict[int, socket.socket] = {}  # accepted, before their hello
        self._listeners: dict[int, _Listener] = {}
        self.counts: dict[int, CallCounts] = {}
        self._pids: dict[int, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket.bind(self.path)
        self._socket.listen(64)
        self._socket.setblocking(False)
        self._loop.add_reader(self._socket.fileno(), self._accept)

    def child_env(self, child: int) -> dict[str, str]:
        """Nothing: the target is run as it is (not even the checkpoint hook's socket, so
        a target that has the hook is tested unmodified)."""
        return {}

    def wrap(self, child: int, argv: Sequence[str]) -> list[str]:
        """The command that runs `argv` as `child` under the filter."""
        return launcher.command(
            "--socket", self.path, "--child", str(child), "--parent", str(os.getpid()),
            "--groups", ",".join(self.options.groups), "--", *argv,
        )

    def release(self, child: int) -> None:
        """Let the child's held call run; its next queued call still waiting parks it."""
        listener = self._listeners.get(child)
        if listener is None or listener.parked is None:
            return
        abi.let_run(listener.fd, listener.parked.notif_id)
        listener.parked = None
        while listener.queued:
            held = listener.queued.popleft()
            if abi.still_waiting(listener.fd, held.notif_id):
                self._park(listener, held, soon=True)
                break

    def pid(self, child: int) -> int | None:
        """The pid the child's launcher reported (the target's, after its exec)."""
        return self._pids.get(child)

    async def close(self) -> None:
        """Let every held call run and stop listening; each child still connected is
        reported gone, as `CheckpointServer.close` does. A child still running after this
        gets ENOSYS from its trapped calls: close once the children are gone."""
        for child in list(self._listeners):
            self._drop(child, notify=True)
        for pending in list(self._pending.values()):
            self._forget_pending(pending)
        if self._socket is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)

    # -- the launchers' connections ---------------------------------------------------

    def _accept(self) -> None:
        assert self._socket is not None and self._loop is not None
        try:
            connection, _ = self._socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        connection.setblocking(False)
        self._pending[connection.fileno()] = connection
        self._loop.add_reader(connection.fileno(), self._hello, connection)

    def _hello(self, connection: socket.socket) -> None:
        try:
            message, fds, _, _ = socket.recv_fds(connection, 256, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message, fds = b"", []
        self._forget_pending(connection)
        words = message.decode("utf-8", "replace").split()
        well_formed = len(words) == 3 and words[0] == "hello" and words[1].isdigit()
        if len(fds) != 1 or not well_formed or not words[2].isdigit():
            for fd in fds:
                os.close(fd)
            return
        child, pid = int(words[1]), int(words[2])
        if child in self._listeners:  # a new launch of the same slot replaces the old one
            self._drop(child, notify=False)
        poll = select.poll()
        poll.register(fds[0], select.POLLIN)
        listener = _Listener(child, fds[0], poll)
        self._listeners[child] = listener
        self.counts.setdefault(child, CallCounts())
        self._pids[child] = pid
        assert self._loop is not None
        self._loop.add_reader(listener.fd, self._readable, listener)

    def _forget_pending(self, connection: socket.socket) -> None:
        if self._pending.pop(connection.fileno(), None) is not None and self._loop is not None:
            self._loop.remove_reader(connection.fileno())
        connection.close()

    # -- notifications ----------------------------------------------------------------

    def _readable(self, listener: _Listener) -> None:
        # The listener polls readable for a notification and hung up once no process
        # uses the filter; RECV would block in the second case, so ask poll which it is.
        for _, events in listener.poll.poll(0):
            if events & select.POLLIN:
                if abi.receive(listener.fd, listener.notif):
                    self._notified(listener, listener.notif)
            elif events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                self._drop(listener.child, notify=True)

    def _notified(self, listener: _Listener, notif: abi.SeccompNotif) -> None:
        counts = self.counts[listener.child]
        self._on_activity(listener.child)
        held = self._hold(listener, notif)
        if held is None:
            counts.passed += 1
            abi.let_run(listener.fd, notif.id)
            return
        # The path was read from memory the thread could have left: only now is it known
        # to be the thread's, still waiting on this very call.
        if not abi.still_waiting(listener.fd, notif.id):
            return
        counts.held += 1
        counts.by_call[held.arrival.call] += 1
        if listener.parked is None:
            self._park(listener, held, soon=False)
        else:
            listener.queued.append(held)

    def _hold(self, listener: _Listener, notif: abi.SeccompNotif) -> _Held | None:
        call = decode(notif, self._groups)
        if call is None:
            return None
        for index, path in enumerate(call.paths):
            relative = self._roots.relative(path)
            if relative is None:
                continue
            others = [p for i, p in enumerate(call.paths) if i != index]
            name = f"{call.family}:{relative}"
            # The same thread making an attempt again at a call that waits, or a record
            # lock another process holds (retries.py): a spin wait, as the hook's `yield`.
            # The file system is asked (waits) only when the answer can matter.
            tried, looking = attempt(call), looks(call)
            recent = listener.recent.get(notif.pid)
            if recent is None:
                recent = listener.recent[notif.pid] = deque(maxlen=SPIN_ROUND)
            repeated = tried in spin_window(call, recent)
            waiting = (repeated or looking) and waits(call)
            retry = (repeated and waiting) or blocked_lock(call, notif.pid)
            if waiting or not looking:
                recent.append(tried)
            arrival = SyscallArrival(
                listener.child, name, retry,
                call=call.family, syscall=call.syscall, tid=notif.pid, path=path,
                other_path=others[0] if others else "",
            )
            return _Held(notif.id, arrival)
        return None

    def _park(self, listener: _Listener, held: _Held, *, soon: bool) -> None:
        listener.parked = held
        if soon and self._loop is not None:
            # From inside release(): the scheduler hears of it after its own bookkeeping.
            self._loop.call_soon(self._on_arrival, held.arrival)
        else:
            self._on_arrival(held.arrival)

    def _drop(self, child: int, *, notify: bool) -> None:
        listener = self._listeners.pop(child)
        for held in ([listener.parked] if listener.parked else []) + list(listener.queued):
            abi.let_run(listener.fd, held.notif_id)
        listener.parked = None
        listener.queued.clear()
        if self._loop is not None:
            self._loop.remove_reader(listener.fd)
        os.close(listener.fd)
        if notify:
            self._on_disconnect(child)
