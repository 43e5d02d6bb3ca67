"""Threads making and renaming files in the working directory at the same time.

    python threads.py TAG THREADS ROUNDS    (files are TAG-THREAD-ROUND, renamed to .done)
"""

import os
import sys
import threading

tag, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def work(thread: int) -> None:
    for round_ in range(rounds):
        name = f"{tag}-{thread}-{round_}"
        with open(name, "w") as out:
            out.write(name)
        os.rename(name, name + ".done")


workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
