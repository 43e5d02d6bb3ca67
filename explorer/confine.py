"""Paths a scenario names inside the repo dir stay inside it.

A layout path (where a store lives) is read by the explorer and its contents
go into the trace: `/etc/passwd` or `../../` there would copy or list files
outside the repo. Such a path must be relative and must not climb above where
it starts; only a key that says so (`fixtures`) may name a path elsewhere.
"""

from __future__ import annotations

from pathlib import PurePosixPath


def inside(path: str) -> bool:
    """True if `path` is relative and none of its `..` climbs above its start, so that
    `repo / path` is the repo dir or below it (before symlinks)."""
    if not path or PurePosixPath(path).is_absolute():
        return False
    depth = 0
    for part in PurePosixPath(path).parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            return False
    return True
