"""Which calls are held: the roots and the call groups."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from explorer.intercept.groups import DEFAULT_GROUPS, GROUPS


@dataclass(frozen=True)
class SyscallOptions:
    """`roots`: absolute directories under which calls are held (others run at once).
    `groups`: which kinds of call are held there (keys of `GROUPS`)."""

    roots: tuple[str, ...]
    groups: tuple[str, ...] = DEFAULT_GROUPS

    def __post_init__(self) -> None:
        unknown = [g for g in self.groups if g not in GROUPS]
        if unknown:
            raise ValueError(
                f"unknown call group {unknown[0]!r}: expected one of {', '.join(GROUPS)}"
            )
        relative = [r for r in self.roots if not os.path.isabs(r)]
        if relative:
            raise ValueError(f"root {relative[0]!r} is not an absolute path")

    @classmethod
    def under(cls, roots: Iterable[str | os.PathLike[str]], groups: Sequence[str] = DEFAULT_GROUPS
              ) -> SyscallOptions:
        return cls(tuple(os.fspath(r) for r in roots), tuple(groups))


class Roots:
    """Matches absolute paths against the roots, as given and with symlinks resolved."""

    def __init__(self, roots: Iterable[str]) -> None:
        forms = {os.path.normpath(r) for r in roots}
        forms |= {os.path.realpath(form) for form in forms}
        # Deepest first, so a nested root names its own paths.
        self._forms = sorted(forms, key=len, reverse=True)

    def relative(self, path: str) -> str | None:
        """`path` relative to the deepest root holding it ("." for a root), else None."""
        for form in self._forms:
            if path == form:
                return "."
            if path.startswith(form) and path[len(form)] == "/":
                return path[len(form) + 1:]
            if form == "/":
                return path[1:]
        return None
