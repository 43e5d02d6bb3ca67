"""What one notification is: the call's family, its group and the paths it names.

Families give the checkpoint its name and hide which variant a runtime happens to use
(glibc's open() is openat, Go's rename is renameat...): `open`, `rename`, `unlink`, `rmdir`,
`mkdir`, `link`, `symlink`, `truncate`, `fsync`, `fdatasync`, `lock`, `unlock`, `getlk`,
`write`. A call naming two paths (rename, link) lists its new name first: the checkpoint is
named after the destination, the path a reader of the repo sees change. `args` holds what
tells two calls of one family on one path apart (retries.py compares them): open's flags, a
lock's type and byte range, flock's operation, renameat2's flags.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from explorer.intercept import abi
from explorer.intercept.bpf import OPEN_WRITE_FLAGS
from explorer.intercept.memory import fd_path, read_bytes, read_string, resolve, signed_fd

CWD = abi.AT_FDCWD

FAMILIES = {
    "open": "open", "openat": "open", "openat2": "open", "creat": "open",
    "rename": "rename", "renameat": "rename", "renameat2": "rename",
    "unlink": "unlink", "unlinkat": "unlink", "rmdir": "rmdir",
    "mkdir": "mkdir", "mkdirat": "mkdir", "link": "link", "linkat": "link",
    "symlink": "symlink", "symlinkat": "symlink", "truncate": "truncate",
    "ftruncate": "truncate", "fsync": "fsync", "fdatasync": "fdatasync",
    "fcntl": "lock", "flock": "lock",
    "write": "write", "pwrite64": "write", "writev": "write", "pwritev": "write",
    "pwritev2": "write",
}
GROUP_OF = {
    "rename": "paths", "unlink": "paths", "rmdir": "paths", "mkdir": "paths", "link": "paths",
    "symlink": "paths", "truncate": "paths", "fsync": "sync", "fdatasync": "sync",
    "lock": "locks", "write": "writes",
}


@dataclass(frozen=True)
class Call:
    syscall: str  # the kernel's name: openat, renameat2...
    family: str  # the checkpoint's name: open, rename...
    paths: tuple[str, ...]  # absolute; the one the checkpoint is named after first
    args: tuple[int, ...] = ()  # what tells it from another call of its family on its paths


def decode(notif: abi.SeccompNotif, groups: Collection[str]) -> Call | None:
    """The call, or None when it is not held whatever its path (its group is not held,
    its path cannot be read)."""
    syscall = abi.SYSCALL_NAMES.get(notif.data.nr)
    if syscall is None:
        return None
    tid, a = notif.pid, list(notif.data.args)
    family = FAMILIES[syscall]
    args: tuple[int, ...] = ()
    if family == "open":
        flags = _open_flags(tid, syscall, a)
        group = "paths" if flags & OPEN_WRITE_FLAGS else "reads"
        args = (flags & 0xFFFFFFFF,)
    else:
        group = GROUP_OF[family]
    if group not in groups:
        return None
    if syscall == "fcntl":
        family, args = _fcntl_lock(tid, a)
    elif syscall == "flock":
        family = "unlock" if a[1] & abi.LOCK_UN else "lock"
        args = (a[1] & ~abi.LOCK_NB & 0xFFFFFFFF,)
    elif syscall == "unlinkat" and a[2] & abi.AT_REMOVEDIR:
        family = "rmdir"
    elif syscall in ("renameat2", "linkat"):
        args = (a[4] & 0xFFFFFFFF,)
    named = _paths(tid, syscall, a)
    paths = tuple(p for p in named if p is not None)
    return Call(syscall, family, paths, args) if paths else None


def _open_flags(tid: int, syscall: str, a: list[int]) -> int:
    if syscall == "open":
        return a[1]
    if syscall == "openat":
        return a[2]
    if syscall == "creat":
        return abi.O_CREAT | abi.O_WRONLY | abi.O_TRUNC
    how = read_bytes(tid, a[2], 8)  # openat2: struct open_how starts with u64 flags
    return int.from_bytes(how, "little") if how and len(how) == 8 else 0


def _fcntl_lock(tid: int, a: list[int]) -> tuple[str, tuple[int, ...]]:
    """The family, and the lock's kind (0 a process's, 1 an open file's), type, whence, start
    and length. A blocking and a non-blocking try at the same lock are the same attempt."""
    command = a[1] & 0xFFFFFFFF
    kind = int(command in (abi.F_OFD_GETLK, abi.F_OFD_SETLK, abi.F_OFD_SETLKW))
    raw = read_bytes(tid, a[2], abi.FLOCK.size) or b""
    fields = abi.FLOCK.unpack(raw)[:4] if len(raw) == abi.FLOCK.size else ()
    if command in (abi.F_GETLK, abi.F_OFD_GETLK):
        family = "getlk"
    else:
        unlock = bool(fields) and fields[0] == abi.F_UNLCK
        family = "unlock" if unlock else "lock"
    return family, (kind, *fields)


def _at(tid: int, dirfd: int, address: int) -> str | None:
    path = read_string(tid, address)
    return None if path is None else resolve(tid, signed_fd(dirfd), path)


def _paths(tid: int, syscall: str, a: list[int]) -> list[str | None]:
    if syscall in ("open", "creat", "unlink", "rmdir", "mkdir", "truncate"):
        return [_at(tid, CWD, a[0])]
    if syscall in ("openat", "openat2", "unlinkat", "mkdirat"):
        return [_at(tid, a[0], a[1])]
    if syscall in ("rename", "link"):
        return [_at(tid, CWD, a[1]), _at(tid, CWD, a[0])]
    if syscall in ("renameat", "renameat2", "linkat"):
        return [_at(tid, a[2], a[3]), _at(tid, a[0], a[1])]
    if syscall == "symlink":  # the link's own target is only text: not a path it touches
        return [_at(tid, CWD, a[1])]
    if syscall == "symlinkat":
        return [_at(tid, a[1], a[2])]
    return [fd_path(tid, signed_fd(a[0]))]  # the fd calls: ftruncate, sync, locks, writes
