"""Whether syscall checkpoints can work on this machine, and if not, why (one line)."""

from __future__ import annotations

import platform
import subprocess
import sys

from explorer.intercept import launcher

ACTIONS = "/proc/sys/kernel/seccomp/actions_avail"


def availability() -> str | None:
    """None when the mode works here; otherwise the reason, for a clear exit-2 error."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"syscall checkpoints need Linux on x86_64 (this is {sys.platform} on " \
               f"{platform.machine()})"
    try:
        with open(ACTIONS) as actions:
            available = actions.read().split()
    except OSError:
        return f"the kernel offers no seccomp ({ACTIONS} is missing)"
    if "user_notif" not in available:
        return f"the kernel has no seccomp user notification (not in {ACTIONS})"
    # The last word is a real try, in a throwaway process: a container's own seccomp policy,
    # or a supervisor already listening on us, can refuse the filter.
    probe = subprocess.run(
        launcher.command("--probe"),
        capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        return lines[-1] if lines else f"the seccomp probe failed (exit {probe.returncode})"
    return None
