"""Adds one to `n` in ./state.json with no lock: an unlocked read-modify-write.

    python rmw.py TAG    (TAG names its temporary file, so each writer has its own)
"""

import json
import os
import sys

with open("state.json") as state:
    data = json.load(state)
data["n"] += 1
temporary = f"state.json.{sys.argv[1]}.tmp"
with open(temporary, "w") as out:
    json.dump(data, out)
os.rename(temporary, "state.json")
