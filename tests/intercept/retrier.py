"""Makes calls of one family on one file back to back, in ./, as a test names them.

    python retrier.py ranges    locks two byte ranges of `data`, one after the other
    python retrier.py reopen    opens `data` twice for writing, then twice for reading
    python retrier.py setlk     tries to lock byte 0 of `data` until it gets it
    python retrier.py excl      tries to create `lock` exclusively until it can
    python retrier.py excl-look the same, reading `lock` (whose it is) between tries
    python retrier.py busy      SQLite's busy loop: locks byte 1, tries byte 0, drops 1, again
    python retrier.py poll      tries to open `ready` until it is there
    python retrier.py mkdir     tries to make the dir `lock.d` until it can
"""

import fcntl
import os
import sys


def until_it_works(attempt):  # no sleep: each try is held until the test lets it run
    while True:
        try:
            return attempt()
        except OSError:
            continue


mode = sys.argv[1]
if mode == "ranges":
    fd = os.open("data", os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, 1)
elif mode == "reopen":
    for flags in ("w", "w", "r", "r"):
        open("data", flags).close()
elif mode == "setlk":
    fd = os.open("data", os.O_RDWR)
    until_it_works(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0))
elif mode == "excl":
    until_it_works(lambda: os.open("lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
elif mode == "excl-look":
    def create_or_look():
        try:
            return os.open("lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with open("lock") as owner:
                owner.read()
            raise

    until_it_works(create_or_look)
elif mode == "busy":
    fd = os.open("data", os.O_RDWR)

    def pending_then_shared():
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1)
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 0)
        except OSError:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, 1)
            raise

    until_it_works(pending_then_shared)
elif mode == "poll":
    until_it_works(lambda: os.open("ready", os.O_RDONLY))
elif mode == "mkdir":
    until_it_works(lambda: os.mkdir("lock.d"))
else:
    sys.exit(f"unknown mode {mode!r}")
