"""What must hold: pure functions of a snapshot and the children's output.

Each invariant returns its breaks, one per thing a person would fix, with a
message that says which extension, which version and what each store says.
A plugin is any `module:function` with the same signature; it may return
`Break`s or plain strings, and may set a `when` attribute on the function.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from explorer.events import Break, When
from explorer.snapshot import Snapshot

LOCK_EXHAUSTED = "Could not acquire lock on upstream_extensions.json"
DUPLICATE_TYPE = "DuplicateTypeError"
ORPHAN_ROW = re.compile(r"Dropping orphan row (?P<extension>\S+?)@(?P<version>\S+)")
MAX_LISTED = 3  # paths quoted in one message; the rest are counted


@dataclass(frozen=True)
class Transcript:
    """One child's output so far: stdout and stderr lines in arrival order."""

    child: int
    label: str
    lines: tuple[str, ...]
    returncode: int | None = None

    @property
    def who(self) -> str:
        return f"child {self.child} ({self.label})"


Check = Callable[[Snapshot, Sequence[Transcript]], Iterable[Break | str]]


@dataclass(frozen=True)
class Invariant:
    name: str
    when: When
    check: Check

    def run(self, snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
        """The breaks, named after this invariant whatever the function called them."""
        out: list[Break] = []
        try:
            for item in self.check(snapshot, outputs):
                if isinstance(item, Break):
                    out.append(replace(item, invariant=self.name, classification=None))
                else:
                    out.append(Break(self.name, str(item)))
        except Exception as exc:  # a plugin's bug must not end the run or stop live checks
            out.append(Break(self.name, f"the check itself raised {exc!r}"))
        return out


def parse_lockfile(text: str | None) -> dict[str, Any] | None:
    """The lockfile's entries ({} when absent), or None when it does not parse."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _version(entry: Any) -> str:
    return str(entry.get("version")) if isinstance(entry, dict) else "?"


def _files(entry: Any) -> list[str]:
    files = entry.get("files") if isinstance(entry, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _quote(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    more = len(paths) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def extension_of(path: str) -> str:
    """`@scope/name/...` -> `@scope/name`; an unscoped `name/...` -> `name`."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") and len(parts) > 1 else parts[0]


def lockfile_parses(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(iii) The lockfile, when present, is a JSON object of entries with a version."""
    text = snapshot.lockfile
    if text is None:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        head = text[:60].replace("\n", " ")
        return [Break("lockfile_parses", f"the lockfile is not valid JSON ({exc}); "
                      f"{len(text)} bytes beginning {head!r}")]
    if not isinstance(data, dict):
        return [Break("lockfile_parses", f"the lockfile holds a JSON {type(data).__name__}, "
                      "not an object of entries")]
    breaks = []
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            breaks.append(Break("lockfile_parses", f"lockfile entry {name} has no version "
                                f"string: {json.dumps(entry)[:80]}", extension=name))
        elif not isinstance(entry.get("files"), list):
            breaks.append(Break("lockfile_parses", f"lockfile entry {name}@{entry['version']} "
                                "has no `files` list", extension=name))
    return breaks


def catalog_matches_lockfile(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(i) Indexed catalog rows and lockfile entries agree by name and version, both ways."""
    entries = parse_lockfile(snapshot.lockfile)
    if entries is None:
        return []  # lockfile_parses reports it; nothing to compare against
    indexed: dict[str, set[str]] = defaultdict(set)
    tombstoned: dict[str, set[str]] = defaultdict(set)
    for row in snapshot.catalog:
        (indexed if row.state == "Indexed" else tombstoned)[row.name].add(row.version)
    breaks = []
    for name in sorted(set(indexed) | set(entries)):
        versions = sorted(indexed.get(name, ()))
        if name not in entries:
            breaks.append(Break(
                "catalog_matches_lockfile",
                f"the catalog indexes {name}@{', '.join(versions)} but the lockfile has no "
                f"entry for {name}",
                extension=name,
            ))
            continue
        locked = _version(entries[name])
        if not versions:
            dead = sorted(tombstoned.get(name, ()))
            also = f" (tombstoned: {', '.join(dead)})" if dead else " (no rows at all)"
            breaks.append(Break(
                "catalog_matches_lockfile",
                f"the lockfile lists {name}@{locked} but the catalog has no Indexed row for "
                f"{name}{also}",
                extension=name,
            ))
        elif versions != [locked]:
            breaks.append(Break(
                "catalog_matches_lockfile",
                f"version skew for {name}: the lockfile says {locked}, the catalog indexes "
                f"{', '.join(versions)}",
                extension=name,
            ))
    return breaks


def no_duplicate_type_error(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(ii) No child reported a DuplicateTypeError, and no (kind, type) is indexed twice."""
    breaks = []
    for out in outputs:
        for line in out.lines:
            if DUPLICATE_TYPE in line:
                breaks.append(Break("no_duplicate_type_error",
                                    f"{out.who} reported: {line.strip()}"))
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in snapshot.catalog:
        if row.state == "Indexed":
            owners[(row.kind, row.type)].add(row.name)
    for (kind, type_), names in sorted(owners.items()):
        if len(names) > 1:
            breaks.append(Break(
                "no_duplicate_type_error",
                f"{len(names)} extensions have Indexed {kind} rows of type {type_}: "
                f"{', '.join(sorted(names))}",
                extension=sorted(names)[0],
            ))
    return breaks


def no_lock_exhaustion(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(ii') No child ran out of lock retries."""
    return [Break("no_lock_exhaustion", f"{out.who} ran out of lock retries: {line.strip()}")
            for out in outputs for line in out.lines if LOCK_EXHAUSTED in line]


def no_orphan_row_dropped(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(ii'') No child dropped an orphan catalog row: an Indexed row that outlived its
    lockfile entry (the seed counted it with lock exhaustion; it is another failure)."""
    breaks = []
    for out in outputs:
        for line in out.lines:
            match = ORPHAN_ROW.search(line)
            if match:
                breaks.append(Break(
                    "no_orphan_row_dropped",
                    f"{out.who} dropped an orphan catalog row — an Indexed row outlived its "
                    f"lockfile entry: {line.strip()}",
                    extension=match["extension"],
                ))
    return breaks


def tree_matches_lockfile(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[Break]:
    """(iv) Every file under the tree is listed by some entry; every listed file exists."""
    entries = parse_lockfile(snapshot.lockfile)
    if entries is None:
        return []
    on_disk = set(snapshot.files)
    listed: dict[str, str] = {}  # file -> the entry listing it
    missing: dict[str, list[str]] = defaultdict(list)
    for name, entry in entries.items():
        for path in _files(entry):
            listed[path] = name
            if path not in on_disk:
                missing[name].append(path)
    unlisted: dict[str, list[str]] = defaultdict(list)
    for path in sorted(on_disk - set(listed)):
        unlisted[extension_of(path)].append(path)
    breaks = []
    for name in sorted(set(missing) | set(unlisted)):
        parts = []
        if name in unlisted:
            paths = unlisted[name]
            whose = (f"the lockfile has entry {name}@{_version(entries[name])} but it does not "
                     "list them" if name in entries else f"the lockfile has no entry for {name}")
            parts.append(f"{len(paths)} file(s) on disk that no entry lists ({_quote(paths)}); "
                         + whose)
        if name in missing:
            paths = sorted(missing[name])
            parts.append(f"lockfile entry {name}@{_version(entries[name])} lists {len(paths)} "
                         f"file(s) missing from disk ({_quote(paths)})")
        breaks.append(Break("tree_matches_lockfile", f"{name}: " + "; ".join(parts),
                            extension=name))
    return breaks


BUILTIN: dict[str, Invariant] = {
    inv.name: inv
    for inv in (
        Invariant("catalog_matches_lockfile", "quiescent", catalog_matches_lockfile),
        Invariant("no_duplicate_type_error", "quiescent", no_duplicate_type_error),
        Invariant("no_lock_exhaustion", "quiescent", no_lock_exhaustion),
        Invariant("no_orphan_row_dropped", "quiescent", no_orphan_row_dropped),
        Invariant("lockfile_parses", "always", lockfile_parses),
        Invariant("tree_matches_lockfile", "quiescent", tree_matches_lockfile),
    )
}

PHASE_WHENS: dict[str, tuple[When, ...]] = {
    "quiescent": ("always", "quiescent"),
    "final": ("always", "quiescent", "final"),
}


def due(invariants: Iterable[Invariant], phase: str) -> list[Invariant]:
    """The invariants that must hold at a phase (`live` checks only the `always` ones)."""
    whens = PHASE_WHENS.get(phase, ("always",))
    return [inv for inv in invariants if inv.when in whens]
