"""`python -m explorer.restore ARCHIVE_FILE DEST [--include G]... [--exclude G]...`: a rerun's
setup step.

Recreates a repo dir from the base64 tar.gz a trace recorded at an iteration's
start (symlinks as links, absolute ones inside the dir pointing inside DEST). It
runs as a child of the rerun, so the restore is an ordinary, visible setup step
in the rerun's own trace.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

from explorer.archive import ArchivePolicy, restore_archive


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.restore")
    parser.add_argument("archive", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args(argv)
    policy = ArchivePolicy(tuple(args.include), tuple(args.exclude))
    try:
        restore_archive(args.archive.read_text(encoding="ascii"), args.dest, policy,
                        replace=True)
    except (OSError, ValueError, tarfile.TarError) as exc:
        print(f"restore: {args.archive}: cannot restore into {args.dest}: {exc}",
              file=sys.stderr)
        return 1
    print(f"restored {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
