"""Which held calls are retries: a thread spinning on something another child holds.

A retry is taken for the hook's `yield` (the scheduler runs that child last, and PCT never
lets it starve the holder), so it must not be mistaken for ordinary work: a program making
two calls of one family on one path back to back (SQLite locking two byte ranges of one
file, a file opened twice) is not waiting for anyone, and treating it as a spin holds it
back for nothing and turns PCT into a fixed rotation of such pairs.

A held call is a retry when the same thread's last held call was the *same attempt* (the
family, the paths and the arguments that matter: `Call.args`) and the call is of a kind a
program waits with, in a state where it fails:

- `lock` and `getlk` (fcntl record locks, flock), with the same type and byte range. Whether
  a lock is free cannot be seen from here, and need not be: a lock identical to one the
  thread has just been granted changes nothing, so a program asks for it again only when
  it was refused (or, for a blocking lock, interrupted). A poll with F_GETLK is a spin too.
- `open` with O_CREAT|O_EXCL while the path exists (the lock-file spin: swamp's
  `upstream_extensions.json.lock`), and `open` without O_CREAT while the path is missing
  (polling for a file another child is to make). A plain re-open of an existing file
  succeeds, and is work, not a wait.
- `mkdir`, `link` and `symlink` while the new name exists (a directory or a link as a
  lock), and `rename` while its source is missing or, with RENAME_NOREPLACE, its
  destination exists.

The file system is looked at when the call is held, before the kernel runs it: what the
call will find, unless another thread of the same child changes it first (advisory, like
the path itself). Everything else — unlock, unlink, rmdir, truncate, fsync, writes — is
never a retry: repeating them is doing the work again, not waiting for another child.
"""

from __future__ import annotations

import os

from explorer.intercept import abi
from explorer.intercept.calls import Call

Attempt = tuple[str, tuple[str, ...], tuple[int, ...]]


def attempt(call: Call) -> Attempt:
    """What a retry of `call` repeats."""
    return call.family, call.paths, call.args


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
