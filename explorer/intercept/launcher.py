"""Runs a target under the seccomp filter and hands the filter's listener to the explorer.

    python -m explorer.intercept.launcher --socket PATH --child N --parent PID
        --groups paths,locks -- COMMAND [ARG...]
    python -m explorer.intercept.launcher --probe

The supervisor starts it as `python -S -E -c BOOT ...` (see `supervisor.wrap`): a child's
start pays for no site-packages scan and no argparse.

Everything it needs is imported before the filter is installed: between installing it and
sending the listener fd, a trapped call would wait for a supervisor that cannot hear it.
sendmsg, close and execve are never trapped. Exit codes: 127 when the command is not found,
126 when it cannot be run, 2 when the filter cannot be installed or the explorer is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from explorer.intercept import abi, bpf
from explorer.intercept.groups import GROUPS

# Where the `explorer` package is, for a launcher started without site-packages.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = (
    f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); "
    "from explorer.intercept.launcher import main; sys.exit(main())"
)


def command(*args: str) -> list[str]:
    """The command line that runs this launcher with `args`."""
    return [sys.executable, "-S", "-E", "-c", BOOT, *args]


USAGE = (
    "usage: launcher --probe | launcher --socket PATH --child N [--parent PID] "
    "[--groups G,G] -- COMMAND [ARG...]"
)


class Launch:
    """The parsed command line (by hand: argparse would cost every child's start)."""

    def __init__(self, argv: list[str]) -> None:
        self.probe = argv == ["--probe"]
        self.options: dict[str, str] = {}
        self.command: list[str] = []
        rest = list(argv)
        while rest and not self.probe:
            word = rest.pop(0)
            if word == "--":
                self.command = rest
                break
            if word not in ("--socket", "--child", "--parent", "--groups") or not rest:
                raise ValueError(f"unexpected argument {word!r}")
            self.options[word[2:]] = rest.pop(0)
        if not self.probe and not (
            "socket" in self.options and self.options.get("child", "").isdigit() and self.command
        ):
            raise ValueError("--socket, a numeric --child and a command are required")


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
    try:
        args = Launch(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"{error}\n{USAGE}", file=sys.stderr)
        return 2
    if args.probe:
        return probe()
    groups = [g for g in args.options.get("groups", "").split(",") if g]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"unknown call group {unknown[0]!r}", file=sys.stderr)
        return 2
    # The target must not outlive the explorer: it would run on with every trapped call
    # failing (ENOSYS). Checked after setting it, in case the parent died just before.
    abi.prctl(abi.PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = args.options.get("parent")
    if parent is not None and str(os.getppid()) != parent:
        print("the explorer is gone", file=sys.stderr)
        return 2
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.connect(args.options["socket"])
    try:
        listener = install(groups)
    except OSError as error:
        print(f"seccomp refused a user-notification filter: {error.strerror}", file=sys.stderr)
        return 2
    hello = f"hello {args.options['child']} {os.getpid()}".encode()
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
