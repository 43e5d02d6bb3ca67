"""A supervisor in its own process, for the test that kills it: it runs one child that
creates `held` in ROOT and then would live on for ten minutes, prints the child's pid once
that call is held, and never releases it.

    python supervise_one.py ROOT
"""

import asyncio
import sys

from explorer.intercept.options import SyscallOptions
from explorer.intercept.supervisor import SyscallSupervisor

# Without its supervisor the held call fails (ENOSYS): the child must not survive that.
CHILD_CODE = """
import time
try:
    open('held', 'w').close()
except OSError:
    pass
time.sleep(600)
"""


async def main(root: str) -> None:
    held = asyncio.Event()
    supervisor = SyscallSupervisor(
        lambda arrival: held.set(), lambda child: None, options=SyscallOptions.under([root])
    )
    await supervisor.start()
    await asyncio.create_subprocess_exec(
        *supervisor.wrap(1, [sys.executable, "-c", CHILD_CODE]), cwd=root
    )
    await held.wait()
    print(supervisor.pid(1), flush=True)
    await asyncio.Event().wait()


asyncio.run(main(sys.argv[1]))
