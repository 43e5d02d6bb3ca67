"""The kernel's side of seccomp user notification on x86_64, through ctypes.

Numbers are from the kernel's uapi headers (linux/seccomp.h, asm/unistd_64.h); sizes were
checked with SECCOMP_GET_NOTIF_SIZES (80/24/64) on the machines this was tried on.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

SYS_SECCOMP = 317
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_NOTIF_SIZES = 3
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1

IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102

AT_FDCWD = -100
AT_REMOVEDIR = 0x200

# x86_64 syscall numbers of the calls this package can hold.
SYSCALLS: dict[str, int] = {
    "write": 1,
    "open": 2,
    "pwrite64": 18,
    "writev": 20,
    "fcntl": 72,
    "flock": 73,
    "fsync": 74,
    "fdatasync": 75,
    "truncate": 76,
    "ftruncate": 77,
    "rename": 82,
    "mkdir": 83,
    "rmdir": 84,
    "creat": 85,
    "link": 86,
    "unlink": 87,
    "symlink": 88,
    "openat": 257,
    "mkdirat": 258,
    "unlinkat": 263,
    "renameat": 264,
    "linkat": 265,
    "symlinkat": 266,
    "pwritev": 296,
    "renameat2": 316,
    "pwritev2": 328,
    "openat2": 437,
}
SYSCALL_NAMES = {number: name for name, number in SYSCALLS.items()}

# fcntl's lock commands: F_GETLK, F_SETLK, F_SETLKW and their open-file-description forms.
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
FCNTL_LOCK_COMMANDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
F_UNLCK = 2
LOCK_UN = 8
LOCK_NB = 4
O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC = 0o1, 0o2, 0o100, 0o200, 0o1000
RENAME_NOREPLACE = 1


class SeccompData(ctypes.Structure):
    _fields_ = [
        ("nr", ctypes.c_int32),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    ]


class SeccompNotif(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),  # the thread id, in the supervisor's pid namespace
        ("flags", ctypes.c_uint32),
        ("data", SeccompData),
    ]


class SeccompNotifResp(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    ]


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


class NotifSizes(ctypes.Structure):
    _fields_ = [("notif", ctypes.c_uint16), ("resp", ctypes.c_uint16), ("data", ctypes.c_uint16)]


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
libc.process_vm_readv.restype = ctypes.c_ssize_t
libc.process_vm_readv.argtypes = [
    ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_ulong,
    ctypes.POINTER(IoVec), ctypes.c_ulong, ctypes.c_ulong,
]


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def prctl(option: int, value: int) -> None:
    _check(libc.prctl(option, value, 0, 0, 0))


def install_filter(program: list[SockFilter]) -> int:
    """Install the filter on the calling thread (inherited by what it starts); the listener fd."""
    instructions = (SockFilter * len(program))(*program)
    fprog = SockFprog(len(program), instructions)
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    return _check(
        libc.syscall(
            ctypes.c_long(SYS_SECCOMP), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
            ctypes.c_long(flags), ctypes.byref(fprog),
        )
    )


def notif_sizes() -> NotifSizes:
    sizes = NotifSizes()
    _check(
        libc.syscall(
            ctypes.c_long(SYS_SECCOMP), ctypes.c_long(SECCOMP_GET_NOTIF_SIZES),
            ctypes.c_long(0), ctypes.byref(sizes),
        )
    )
    return sizes


def receive(listener: int, notif: SeccompNotif) -> bool:
    """Fill `notif` with the next notification; False when it vanished (ENOENT)."""
    ctypes.memset(ctypes.byref(notif), 0, ctypes.sizeof(notif))  # RECV wants it zeroed
    if libc.ioctl(listener, IOCTL_NOTIF_RECV, ctypes.byref(notif)) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOENT, errno.EINTR):
        return False
    raise OSError(err, os.strerror(err))


def let_run(listener: int, notif_id: int) -> None:
    """Answer CONTINUE: the kernel runs the real call. A stale id is dropped silently."""
    resp = SeccompNotifResp(notif_id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)
    if libc.ioctl(listener, IOCTL_NOTIF_SEND, ctypes.byref(resp)) != 0:
        err = ctypes.get_errno()
        if err not in (errno.ENOENT, errno.EBADF):
            raise OSError(err, os.strerror(err))


def still_waiting(listener: int, notif_id: int) -> bool:
    """ID_VALID: the thread still waits on this notification."""
    value = ctypes.c_uint64(notif_id)
    return libc.ioctl(listener, IOCTL_NOTIF_ID_VALID, ctypes.byref(value)) == 0

# x86_64 struct flock: short l_type, short l_whence, (padding), off_t l_start, off_t l_len,
# pid_t l_pid (filled in by F_GETLK), (padding).
FLOCK = struct.Struct("<hh4xqqi4x")
