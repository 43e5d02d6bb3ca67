"""A child for the scheduler tests: passes checkpoints and logs each step it takes.

argv: LOG NAME STEPS [MODE]. Each step appends "NAME:i" to LOG right after
checkpoint `step-i`, so under a serialising scheduler the log is the schedule.
MODE "spin" passes the spin-wait checkpoint `lock-retry` instead (a yield); MODE "flock" takes an
exclusive flock on LOG.lock at step 1 and holds it (blocks outside checkpoints).
"""

import fcntl
import os
import sys

from lifecycle.checkpoint import checkpoint

log, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else ""
lock = None
for i in range(1, steps + 1):
    checkpoint("lock-retry" if mode == "spin" else f"step-{i}")
    if mode == "flock" and i == 1:
        lock = open(log + ".lock", "w")  # noqa: SIM115 - held for the child's life
        fcntl.flock(lock, fcntl.LOCK_EX)
    with open(log, "a") as f:
        f.write(f"{name}:{i}\n")
os._exit(0)
