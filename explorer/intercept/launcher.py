"""Runs a target under the seccomp filter and hands the filter's listener to the explorer.

    python -m explorer.intercept.launcher --socket PATH --child N --parent PID
        --groups paths,locks -- COMMAND [ARG...]
    python -m explorer.intercept.launcher --probe

Everything it needs is imported before the filter is installed: between installing it and
sending the listener fd, a trapped call would wait for a supervisor that cannot hear it.
sendmsg, close and execve are never trapped. Exit codes: 127 when the command is not found,
126 when it cannot be run, 2 when the filter cannot be installed or the explorer is gone.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys

from explorer.intercept import abi, bpf
from explorer.intercept.options import GROUPS


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="explorer.intercept.launcher")
    parser.add_argument("--probe", action="store_true", help="only try to install a filter")
    parser.add_argument("--socket")
    parser.add_argument("--child", type=int)
    parser.add_argument("--parent", type=int, help="exit if this process is not our parent")
    parser.add_argument("--groups", default="")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.probe and (not args.socket or args.child is None or not args.command):
        parser.error("--socket, --child and a command are required")
    return args


def install(groups: list[str]) -> int:
    abi.prctl(abi.PR_SET_NO_NEW_PRIVS, 1)
    return abi.install_filter(bpf.compiled(groups))


def probe() -> int:
    """Install a filter trapping nothing we use; say why not in one line."""
    try:
        install(["sync"])
    except OSError as error:
        print(f"seccomp refused a user-notification filter: {error.strerror}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.probe:
        return probe()
    groups = [g for g in args.groups.split(",") if g]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"unknown call group {unknown[0]!r}", file=sys.stderr)
        return 2
    # The target must not outlive the explorer: it would run on with every trapped call
    # failing (ENOSYS). Checked after setting it, in case the parent died just before.
    abi.prctl(abi.PR_SET_PDEATHSIG, signal.SIGKILL)
    if args.parent is not None and os.getppid() != args.parent:
        print("the explorer is gone", file=sys.stderr)
        return 2
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.connect(args.socket)
    try:
        listener = install(groups)
    except OSError as error:
        print(f"seccomp refused a user-notification filter: {error.strerror}", file=sys.stderr)
        return 2
    hello = f"hello {args.child} {os.getpid()}".encode()
    socket.send_fds(connection, [hello], [listener])
    os.close(listener)
    connection.close()
    try:
        os.execvp(args.command[0], args.command)
    except FileNotFoundError:
        print(f"command not found: {args.command[0]}", file=sys.stderr)
        return 127
    except OSError as error:
        print(f"cannot run {args.command[0]}: {error.strerror}", file=sys.stderr)
        return 126
    return 0  # not reached: execvp replaced this process


if __name__ == "__main__":
    sys.exit(main())
