"""Which held calls are retries: a thread spinning on something another child holds.

A retry is taken for the hook's `yield` (the scheduler runs that child last, and PCT never
lets it starve the holder), so it must not be mistaken for ordinary work: a program making
two calls of one family on one path back to back (SQLite locking two byte ranges of one
file, a file opened twice) is not waiting for anyone, and treating it as a spin holds it
back for nothing and turns PCT into a fixed rotation of such pairs.

A held call is a retry when the same thread made the *same attempt* (the family, the paths
and the arguments that matter: `Call.args`) within its last round of calls (`spin_window`)
and the call is of a kind a program waits with, in a state where it fails:

- an fcntl record lock that conflicts with one another process holds now (`blocked_lock`,
  asked of the kernel with F_GETLK): a wait from the first try, repeated or not.
- `lock` and `getlk` (fcntl record locks, flock), with the same type and byte range, asked
  again: a lock identical to one the thread has just been granted changes nothing, so a
  program asks for it again only when it was refused (or, for a blocking lock,
  interrupted); this also covers flock, which F_GETLK does not see. A poll with F_GETLK is
  a spin too.
- `open` with O_CREAT|O_EXCL while the path exists (the lock-file spin: swamp's
  `upstream_extensions.json.lock`), and `open` without O_CREAT while the path is missing
  (polling for a file another child is to make). A plain re-open of an existing file
  succeeds, and is work, not a wait.
- `mkdir`, `link` and `symlink` while the new name exists (a directory or a link as a
  lock), and `rename` while its source is missing or, with RENAME_NOREPLACE, its
  destination exists.

Between two tries a spin may look at what it waits for (the reference CLI reads the lock
file to see whether its owner is alive): a call that only looks — an open to read an
existing file, a lock test — neither counts as a try nor breaks the run of tries.

The file system is looked at when the call is held, before the kernel runs it: what the
call will find, unless another thread of the same child changes it first (advisory, like
the path itself). Everything else — unlock, unlink, rmdir, truncate, fsync, writes — is
never a retry: repeating them is doing the work again, not waiting for another child.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence

from explorer.intercept import abi
from explorer.intercept.bpf import OPEN_WRITE_FLAGS
from explorer.intercept.calls import Call
from explorer.intercept.memory import thread_group

Attempt = tuple[str, tuple[str, ...], tuple[int, ...]]


def attempt(call: Call) -> Attempt:
    """What a retry of `call` repeats."""
    return call.family, call.paths, call.args


def blocked_lock(call: Call, tid: int) -> bool:
    """An fcntl record lock that another process holds a conflicting lock on right now: the
    call will fail (or, F_SETLKW, sleep) until that one lets go, so the thread is waiting
    from its first try. SQLite's busy loop never repeats one attempt back to back (it takes
    PENDING, fails on SHARED, drops PENDING, sleeps, and goes round), so only this sees it."""
    if call.syscall != "fcntl" or call.family != "lock" or len(call.args) != 5:
        return False
    _, wanted, whence, start, length = call.args
    try:
        fd = os.open(call.paths[0], os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:  # the runner holds no record lock in the repo: closing this fd drops none of its
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, abi.FLOCK.pack(wanted, whence, start, length, 0))
    except OSError:
        return False
    finally:
        os.close(fd)
    held, _, _, _, holder = abi.FLOCK.unpack(answer)
    # the calling thread's own process may hold it (an open file's lock says -1: another's)
    return held != abi.F_UNLCK and holder != thread_group(tid)


# The held calls one round of a spin may make besides its try: the reference CLI's lock
# writes its pid to a private file, links it into place, removes it, takes a guard and reads
# the owner before it tries again.
SPIN_ROUND = 8


def spin_window(call: Call, recent: Sequence[Attempt]) -> Sequence[Attempt]:
    """The thread's recent attempts a retry of `call` may repeat: the whole round for the
    lock-file idioms (an exclusive create, a link or a rename onto a lock's name), only the
    last one for the rest, which a program repeats while it works: `makedirs` makes the dirs
    it finds there again, SQLite takes and drops its byte ranges, a program probes for files
    (a record lock another process holds is seen by `blocked_lock` instead)."""
    exclusive = call.family == "open" and bool(call.args and call.args[0] & abi.O_EXCL)
    if exclusive or call.family in ("link", "symlink", "rename"):
        return recent
    return list(recent)[-1:]


def looks(call: Call) -> bool:
    """Whether `call` only looks: an open with no write flag, or a lock test."""
    if call.family == "getlk":
        return True
    return call.family == "open" and not (call.args[0] if call.args else 0) & OPEN_WRITE_FLAGS


def waits(call: Call) -> bool:
    """Whether `call`, repeated, is a thread waiting for another: see the module's list."""
    family, path = call.family, call.paths[0]
    if family in ("lock", "getlk"):
        return True
    if family == "open":
        flags = call.args[0] if call.args else 0
        if flags & abi.O_CREAT:
            return bool(flags & abi.O_EXCL) and os.path.lexists(path)
        return not os.path.lexists(path)
    if family in ("mkdir", "link", "symlink"):
        return os.path.lexists(path)
    if family == "rename":
        source_gone = len(call.paths) > 1 and not os.path.lexists(call.paths[1])
        no_replace = bool(call.args and call.args[0] & abi.RENAME_NOREPLACE)
        return source_gone or (no_replace and os.path.lexists(path))
    return False
