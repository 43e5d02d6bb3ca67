"""The `syscalls` checkpoint mode: the scheduler's view of the supervisor."""

from __future__ import annotations

import functools

from explorer.intercept.availability import availability
from explorer.intercept.groups import DEFAULT_GROUPS
from explorer.intercept.options import SyscallOptions
from explorer.intercept.supervisor import SyscallSupervisor
from explorer.scheduling.checkpoints import CheckpointMode, SourceHooks, SourceSettings

# Every notification is a sign of life, so the grace runs from a child's last system call
# in a trapped group, not from its release: a slow start that imports or reads outside the
# roots keeps it alive. Longer than the hook's, as a step here may be plain computation
# with no trapped call at all (a JIT warming up), and a blocked declaration in the middle of
# one would make the schedule depend on timing.
SYSCALL_GRACE = 0.5
SYSCALL_START_GRACE = 15.0
# PCT's k unless --pct-steps is given: the default scenario's four children make ~370 held
# calls an iteration with the default groups (~30 hook checkpoints).
FIRST_GUESS_STEPS = 350


def _syscall_source(hooks: SourceHooks, settings: SourceSettings) -> SyscallSupervisor:
    options = SyscallOptions(settings.roots, settings.groups or DEFAULT_GROUPS)
    return SyscallSupervisor(hooks.on_arrival, hooks.on_disconnect, hooks.on_activity,
                             options=options)


@functools.cache
def _unavailable() -> str | None:
    return availability()  # a probe process: once per explorer


SYSCALLS = CheckpointMode("syscalls", _syscall_source, grace=SYSCALL_GRACE,
                          start_grace=SYSCALL_START_GRACE, first_guess_steps=FIRST_GUESS_STEPS,
                          unavailable=_unavailable)
