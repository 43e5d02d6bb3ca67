"""The seccomp filter: which system calls notify the explorer.

The program checks the architecture (anything but x86_64, and x32 calls, run untouched),
then has one block per trapped call, each ending in its own return, so no jump is longer
than a block. A few calls are narrowed by their arguments here, in the kernel, because
they are frequent and the rest of them never matters: opens only with write or create
flags (unless `reads` is held), fcntl only for its lock commands, writes only on fds above
2 (stdout and stderr are the explorer's pipes).
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.intercept import abi
from explorer.intercept.groups import GROUPS

LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RET = 0x06  # BPF_RET | BPF_K

NR, ARCH = 0, 4


def arg(index: int) -> int:
    """Offset of the low 32 bits of a call's argument in `struct seccomp_data`."""
    return 16 + 8 * index


# An open that may change the file or make one.
OPEN_WRITE_FLAGS = abi.O_WRONLY | abi.O_RDWR | abi.O_CREAT | abi.O_TRUNC
OPEN_FLAGS_ARG = {"open": 1, "openat": 2}  # openat2's flags are behind a pointer

Instruction = tuple[int, int, int, int]


def program(groups: Sequence[str]) -> list[Instruction]:
    calls = sorted({call for group in groups for call in GROUPS[group]})
    held_reads = "reads" in groups
    notify, allow = (RET, 0, 0, abi.SECCOMP_RET_USER_NOTIF), (RET, 0, 0, abi.SECCOMP_RET_ALLOW)
    code: list[Instruction] = [
        (LD_ABS_W, 0, 0, ARCH),
        (JEQ, 1, 0, abi.AUDIT_ARCH_X86_64),
        allow,
        (LD_ABS_W, 0, 0, NR),
        (JGE, 0, 1, abi.X32_SYSCALL_BIT),
        allow,
    ]
    for call in calls:
        nr = abi.SYSCALLS[call]
        if call in OPEN_FLAGS_ARG and not held_reads:
            body = [
                (LD_ABS_W, 0, 0, arg(OPEN_FLAGS_ARG[call])),
                (JSET, 0, 1, OPEN_WRITE_FLAGS),
                notify,
                allow,
            ]
        elif call == "fcntl":
            commands = abi.FCNTL_LOCK_COMMANDS
            body = [(LD_ABS_W, 0, 0, arg(1))]
            body += [(JEQ, len(commands) - i, 0, c) for i, c in enumerate(commands)]
            body += [allow, notify]
        elif call in GROUPS["writes"]:
            body = [(LD_ABS_W, 0, 0, arg(0)), (JGE, 0, 1, 3), notify, allow]
        else:
            body = [notify]
        # Not this call: skip its block, with A still holding the call's number.
        code.append((JEQ, 0, len(body), nr))
        code += body
    code.append(allow)
    return code


def compiled(groups: Sequence[str]) -> list[abi.SockFilter]:
    return [abi.SockFilter(*instruction) for instruction in program(groups)]
