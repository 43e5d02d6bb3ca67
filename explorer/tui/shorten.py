"""Names made to fit a narrow column: paths, and the checkpoints of syscalls mode."""

from __future__ import annotations


def shorten_path(path: str, parts: int = 2) -> str:
    """The last `parts` components of a path, "…/" for the rest."""
    pieces = path.split("/")
    return path if len(pieces) <= parts else "…/" + "/".join(pieces[-parts:])


def short_checkpoint(name: str, parts: int = 2) -> str:
    """A syscall checkpoint, `<call>:<path under its root>`, with its path shortened
    (`rename:…/models/upstream_extensions.json`): the call and the file's name are what
    tell two apart. A hook checkpoint (`lockfile_written`) is already short."""
    call, colon, path = name.partition(":")
    if not colon or "/" not in path or " " in call:
        return name
    return f"{call}:{shorten_path(path, parts)}"
