"""`python -m explorer.restore ARCHIVE_FILE DEST`: a rerun's setup step.

Recreates a repo dir from the base64 tar.gz a trace recorded at an
iteration's start. It runs as a child of the rerun, so the restore is an
ordinary, visible setup step in the rerun's own trace.
"""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.snapshot import restore_archive


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m explorer.restore ARCHIVE_FILE DEST", file=sys.stderr)
        return 2
    restore_archive(Path(argv[0]).read_text(encoding="ascii"), Path(argv[1]))
    print(f"restored {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
