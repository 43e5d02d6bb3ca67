"""Reading a held call's arguments from the calling thread.

What is read here is advisory: the thread (or another one sharing its memory) could change
the string after we read it and before the kernel does. That is fine for naming a
scheduling point; it would not be for a security decision, and none is made on it.
"""

from __future__ import annotations

import ctypes
import os

from explorer.intercept import abi

PATH_MAX = 4096
PAGE = 4096


# One buffer for every read: the supervisor reads one argument at a time, on the loop's
# thread, and a fresh ctypes buffer per read was a tenth of its time per notification.
_BUFFER = ctypes.create_string_buffer(PAGE)
_LOCAL = abi.IoVec(ctypes.cast(_BUFFER, ctypes.c_void_p), PAGE)
_REMOTE = abi.IoVec(0, 0)
_LOCAL_REF, _REMOTE_REF = ctypes.byref(_LOCAL), ctypes.byref(_REMOTE)
FIRST_READ = 256  # most paths fit: a string is read in this much, then a page at a time


def read_bytes(tid: int, address: int, size: int) -> bytes | None:
    """Up to `size` bytes (at most a page) of the thread's memory at `address` (fewer at an
    unmapped page)."""
    if address == 0:
        return None
    _LOCAL.len = _REMOTE.len = size
    _REMOTE.base = address
    got = abi.libc.process_vm_readv(tid, _LOCAL_REF, 1, _REMOTE_REF, 1, 0)
    if got < 0:
        return _read_proc_mem(tid, address, size)
    return ctypes.string_at(_BUFFER, got)


def _read_proc_mem(tid: int, address: int, size: int) -> bytes | None:
    try:
        with open(f"/proc/{tid}/mem", "rb", buffering=0) as mem:
            mem.seek(address)
            return mem.read(size)
    except (OSError, OverflowError, ValueError):
        return None


def read_string(tid: int, address: int) -> str | None:
    """A NUL-terminated string: its first bytes, then a page at a time, so no read crosses
    into a hole."""
    if address == 0:
        return None
    chunks: list[bytes] = []
    total = 0
    while total < PATH_MAX:
        size = PAGE - (address + total) % PAGE
        if not total:
            size = min(size, FIRST_READ)
        chunk = read_bytes(tid, address + total, size)
        if not chunk:
            return None
        end = chunk.find(b"\0")
        if end >= 0:
            chunks.append(chunk[:end])
            return os.fsdecode(b"".join(chunks))
        chunks.append(chunk)
        total += len(chunk)
    return None


def fd_path(tid: int, fd: int) -> str | None:
    """What the thread's fd names, if it is a file or directory (not a pipe or socket)."""
    try:
        target = os.readlink(f"/proc/{tid}/fd/{fd}")
    except OSError:
        return None
    if not target.startswith("/"):
        return None
    return target.removesuffix(" (deleted)")


def resolve(tid: int, dirfd: int, path: str) -> str | None:
    """An absolute, normalised form of a `*at` call's path (no symlink is followed)."""
    if path.startswith("/"):
        return os.path.normpath(path)
    if dirfd == abi.AT_FDCWD:
        try:
            base = os.readlink(f"/proc/{tid}/cwd")
        except OSError:
            return None
    else:
        found = fd_path(tid, dirfd)
        if found is None:
            return None
        base = found
    return os.path.normpath(os.path.join(base, path)) if path else base


def signed_fd(value: int) -> int:
    """A call's int argument from its 64-bit register (AT_FDCWD is negative)."""
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low >= 1 << 31 else low


def thread_group(tid: int) -> int:
    """The process a thread belongs to (its thread group id); the tid itself if it is gone."""
    try:
        with open(f"/proc/{tid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return tid
