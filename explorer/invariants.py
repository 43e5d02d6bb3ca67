"""What must hold: functions of a snapshot and the children's output.

Each invariant returns its breaks, one per thing a person would fix, with a
message that says which entity (extension, package, branch) and what each store
says. A plugin is any `module:function(snapshot, outputs)`; it may return `Break`s
(`Break.of(message, entity)`), `(entity, message)` pairs or plain strings, and may
set a `when` attribute on the function. The built-ins below know no target: the
stores they compare are options a scenario gives (`{check = "...", with = {...}}`);
registry.py lists them. What the children said is judged in outcomes.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from explorer.events import Break, When
from explorer.snapshot import Row, Snapshot, top_entry

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


Finding = Break | str | tuple[str | None, str]
Check = Callable[[Snapshot, Sequence[Transcript]], Iterable[Finding]]


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
                    out.append(replace(item, invariant=self.name, classification=None,
                                       first_seen=None))
                elif isinstance(item, tuple):
                    entity, message = item
                    out.append(Break(self.name, str(message), entity))
                else:
                    out.append(Break(self.name, str(item)))
        except Exception as exc:  # a plugin's bug must not end the run or stop live checks
            out.append(Break(self.name, f"the check itself raised {exc!r}"))
        return out


def _quote(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    more = len(paths) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def parse_entries(text: str | None) -> dict[str, Any] | None:
    """A JSON object of entries ({} when absent), or None when it does not parse."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _field(entry: Any, key: str) -> str:
    return str(entry.get(key)) if isinstance(entry, dict) else "?"


def _files(entry: Any, key: str) -> list[str]:
    files = entry.get(key) if isinstance(entry, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def lockfile_parses(
    snapshot: Snapshot, outputs: Sequence[Transcript], *, lockfile: str = "lockfile",
    version: str = "version", files: str = "files",
) -> list[Break]:
    """(iii) The lockfile, when present, is a JSON object of entries, each with a `version`
    string and a `files` list."""
    text = snapshot.text(lockfile)
    if text is None:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        head = text[:60].replace("\n", " ")
        return [Break.of(f"the {lockfile} is not valid JSON ({exc}); {len(text)} bytes "
                         f"beginning {head!r}")]
    if not isinstance(data, dict):
        return [Break.of(f"the {lockfile} holds a JSON {type(data).__name__}, not an object "
                         "of entries")]
    breaks = []
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get(version), str):
            breaks.append(Break.of(f"{lockfile} entry {name} has no {version} string: "
                                   f"{json.dumps(entry)[:80]}", name))
        elif not isinstance(entry.get(files), list):
            breaks.append(Break.of(f"{lockfile} entry {name}@{entry[version]} has no "
                                   f"`{files}` list", name))
    return breaks


def catalog_matches_lockfile(
    snapshot: Snapshot, outputs: Sequence[Transcript], *, lockfile: str = "lockfile",
    catalog: str = "catalog", live_state: str = "Indexed", version: str = "version",
) -> list[Break]:
    """(i) Live catalog rows (columns `name`, `version`, `state`) and lockfile entries
    agree by name and version, both ways."""
    entries = parse_entries(snapshot.text(lockfile))
    if entries is None:
        return []  # lockfile_parses reports it; nothing to compare against
    indexed: dict[str, set[str]] = defaultdict(set)
    tombstoned: dict[str, set[str]] = defaultdict(set)
    for row in snapshot.rows(catalog):
        name, ver = str(row.get("name")), str(row.get("version"))
        (indexed if row.get("state") == live_state else tombstoned)[name].add(ver)
    breaks = []
    for name in sorted(set(indexed) | set(entries)):
        versions = sorted(indexed.get(name, ()))
        if name not in entries:
            breaks.append(Break.of(
                f"the {catalog} indexes {name}@{', '.join(versions)} but the {lockfile} has "
                f"no entry for {name}", name))
            continue
        locked = _field(entries[name], version)
        if not versions:
            dead = sorted(tombstoned.get(name, ()))
            also = f" (tombstoned: {', '.join(dead)})" if dead else " (no rows at all)"
            breaks.append(Break.of(
                f"the {lockfile} lists {name}@{locked} but the {catalog} has no {live_state} "
                f"row for {name}{also}", name))
        elif versions != [locked]:
            breaks.append(Break.of(
                f"version skew for {name}: the {lockfile} says {locked}, the {catalog} "
                f"indexes {', '.join(versions)}", name))
    return breaks


def no_duplicate_type_error(
    snapshot: Snapshot, outputs: Sequence[Transcript], *, catalog: str = "catalog",
    live_state: str = "Indexed",
) -> list[Break]:
    """(ii) No (kind, type) is indexed by two entries (columns `name`, `kind`, `type`,
    `state`). (A child's report of the error is an evidence pattern of the scenario's.)"""
    breaks = []
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    rows: list[Row] = snapshot.rows(catalog)
    for row in rows:
        if row.get("state") == live_state:
            owners[(str(row.get("kind")), str(row.get("type")))].add(str(row.get("name")))
    for (kind, type_), names in sorted(owners.items()):
        if len(names) > 1:
            breaks.append(Break.of(
                f"{len(names)} extensions have {live_state} {kind} rows of type {type_}: "
                f"{', '.join(sorted(names))}", sorted(names)[0]))
    return breaks


def tree_matches_lockfile(
    snapshot: Snapshot, outputs: Sequence[Transcript], *, lockfile: str = "lockfile",
    tree: str = "tree", files_relative_to: str = "tree", version: str = "version",
    files: str = "files",
) -> list[Break]:
    """(iv) Every file under the tree is listed by some entry; every listed file exists.
    `files_relative_to`: what an entry's paths are relative to, `tree` or `repo`."""
    entries = parse_entries(snapshot.text(lockfile))
    if entries is None:
        return []
    state = snapshot.store(tree, "tree")
    base = state.items[0].path.rstrip("/") + "/" if state.items else None
    on_disk = set(snapshot.files(tree, "tree"))
    listed: dict[str, str] = {}  # file (relative to the tree) -> the entry listing it
    missing: dict[str, list[str]] = defaultdict(list)
    for name, entry in entries.items():
        for path in _files(entry, files):
            if files_relative_to == "repo":
                if base is None or not path.startswith(base):
                    continue  # outside the tree: not this check's to judge
                path = path[len(base):]
            listed[path] = name
            if path not in on_disk:
                missing[name].append(path)
    unlisted: dict[str, list[str]] = defaultdict(list)
    for path in sorted(on_disk - set(listed)):
        unlisted[top_entry(path)].append(path)
    breaks = []
    for name in sorted(set(missing) | set(unlisted)):
        parts = []
        if name in unlisted:
            paths = unlisted[name]
            whose = (f"the {lockfile} has entry {name}@{_field(entries[name], version)} but "
                     "it does not list them" if name in entries
                     else f"the {lockfile} has no entry for {name}")
            parts.append(f"{len(paths)} file(s) on disk that no entry lists ({_quote(paths)}); "
                         + whose)
        if name in missing:
            paths = sorted(missing[name])
            parts.append(f"{lockfile} entry {name}@{_field(entries[name], version)} lists "
                         f"{len(paths)} file(s) missing from disk ({_quote(paths)})")
        breaks.append(Break.of(f"{name}: " + "; ".join(parts), name))
    return breaks


PHASE_WHENS: dict[str, tuple[When, ...]] = {
    "quiescent": ("always", "quiescent"),
    "final": ("always", "quiescent", "final"),
}


def due(invariants: Iterable[Invariant], phase: str) -> list[Invariant]:
    """The invariants that must hold at a phase (`live` checks only the `always` ones)."""
    whens = PHASE_WHENS.get(phase, ("always",))
    return [inv for inv in invariants if inv.when in whens]
