"""A snapshot: what the target's declared stores said at one moment, for the invariants.

It is read while the children hold still (parked at checkpoints, or gone), so
the stores agree with each other; that is what goes into the trace. A plugin
invariant gets the `Snapshot` object: the stores by their declared names
(parsed JSON, text, SQLite rows and any read-only query, tree listings), lazy
reads of any other file in the repo dir (read when asked, so consistent only
while the children hold still), and the previous snapshot of the block.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from explorer.confine import inside
from explorer.events import Cell, Phase, StateSnapshot, StoreItem, StoreState
from explorer.stores import GLOB_CHARS, DatabaseBusy, StoreSpec, read_store, read_text, run_query

Row = dict[str, Cell]


class StoreError(LookupError):
    """A check asked for a store the scenario does not declare, or one of the wrong kind."""


class Snapshot:
    """The stores at one moment; see the module's doc. Two snapshots are equal when their
    stores said the same."""

    def __init__(
        self,
        stores: Iterable[StoreState] = (),
        *,
        repo: Path | None = None,
        images: Mapping[tuple[str, str], bytes] | None = None,
        previous: Snapshot | None = None,
    ) -> None:
        self.stores: dict[str, StoreState] = {s.name: s for s in stores}
        self.repo = repo  # None for a snapshot rebuilt from a trace: no lazy reads
        self.previous = previous
        self._images = dict(images or {})  # (store, item path) -> database image
        self._reads: dict[str, str | None] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.stores == self.stores

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Snapshot({list(self.stores.values())!r})"

    @classmethod
    def from_event(cls, event: StateSnapshot) -> Snapshot:
        return cls(event.all_stores())

    def to_event(self, *, t: float, iteration: int, phase: Phase) -> StateSnapshot:
        return StateSnapshot(t=t, iteration=iteration, phase=phase,
                             stores=list(self.stores.values()))

    def detached(self) -> Snapshot:
        """The same stores without a previous snapshot (so snapshots never chain)."""
        return Snapshot(self.stores.values(), repo=self.repo, images=self._images)

    # -- the declared stores ----------------------------------------------------------------

    def store(self, name: str, kind: str | None = None) -> StoreState:
        state = self.stores.get(name)
        if state is None:
            raise StoreError(f"no store named {name!r} (the scenario declares: "
                             f"{', '.join(sorted(self.stores)) or 'none'})")
        if kind is not None and state.kind != kind:
            raise StoreError(f"store {name!r} is a {state.kind} store, not {kind}")
        return state

    def exists(self, name: str) -> bool:
        return bool(self.store(name).items)

    def texts(self, name: str) -> dict[str, str]:
        """Each file a json or text store names: path (relative to the repo dir) -> text."""
        return {i.path: i.text for i in self.store(name).items if i.text is not None}

    def text(self, name: str) -> str | None:
        """The text of a store's one file; None when it does not exist."""
        return next(iter(self.texts(name).values()), None)

    def json(self, name: str, default: Any = None) -> Any:
        """A json store's one file, parsed; `default` when it does not exist. Raises
        ValueError (json.JSONDecodeError) when it does not parse."""
        text = self.text(name)
        return default if text is None else json.loads(text)

    def jsons(self, name: str) -> dict[str, Any]:
        """Each file of a json store, parsed; the ones that do not parse are left out."""
        out = {}
        for path, text in self.texts(name).items():
            try:
                out[path] = json.loads(text)
            except json.JSONDecodeError:
                continue
        return out

    def files(self, name: str, relative_to: Literal["tree", "repo"] | None = None) -> list[str]:
        """The files (and links) under a tree store, sorted: relative to the tree when its
        path names one dir, relative to the repo dir when it is a glob (or when asked)."""
        items = self.store(name, "tree").items
        if relative_to is None:
            relative_to = "tree" if len(items) <= 1 and not _is_glob(items) else "repo"
        if relative_to == "tree":
            return sorted(f for item in items for f in item.files)
        return sorted(f"{item.path}/{f}" if item.path not in (".", "") else f
                      for item in items for f in item.files)

    def rows(self, name: str, table: str | None = None) -> list[Row]:
        """Recorded rows of a sqlite store, as dicts: its query's, or one table's."""
        out: list[Row] = []
        for item in self.store(name, "sqlite").items:
            for t in item.tables:
                if table is None or t.name == table:
                    out.extend(dict(zip(t.columns, row, strict=False)) for row in t.rows)
        return out

    def query(self, name: str, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        """Any query on a sqlite store as it was at this snapshot (a private image: nothing
        it does reaches the target); [] when the database does not exist."""
        self.store(name, "sqlite")
        out: list[Row] = []
        for (store, _path), image in self._images.items():
            if store == name:
                table = run_query(image, sql, params)
                out.extend(dict(zip(table.columns, row, strict=False)) for row in table.rows)
        return out

    def entity_names(self) -> set[str]:
        """Names the stores list: a JSON object's keys, a table's first column, a tree's
        top entries (`@scope/name` as one). What a killed child's argv is matched against."""
        names: set[str] = set()
        for state in self.stores.values():
            for item in state.items:
                if state.kind == "json" and item.text is not None:
                    try:
                        data = json.loads(item.text)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(data, dict):
                        names.update(map(str, data))
                for table in item.tables:
                    names.update(str(row[0]) for row in table.rows if row and row[0] is not None)
                names.update(top_entry(f) for f in item.files)
        return names

    # -- anything else in the repo dir, read when asked -------------------------------------

    def _path(self, rel: str) -> Path:
        if self.repo is None:
            raise StoreError("this snapshot was read back from a trace: only its stores")
        if not inside(rel):
            raise StoreError(f"{rel!r} is not a path inside the repo dir")
        return self.repo / rel

    def read(self, rel: str) -> str | None:
        """A file in the repo dir (read once per snapshot); None when it does not exist."""
        if rel not in self._reads:
            self._reads[rel] = read_text(self._path(rel))
        return self._reads[rel]

    def read_json(self, rel: str, default: Any = None) -> Any:
        text = self.read(rel)
        return default if text is None else json.loads(text)

    def listdir(self, rel: str = ".") -> list[str]:
        """Names in a dir of the repo dir, sorted; [] when it does not exist."""
        try:
            return sorted(os.listdir(self._path(rel)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def glob(self, pattern: str) -> list[str]:
        """Paths in the repo dir matching a glob (`**` spans dirs), relative to it, sorted."""
        return StoreSpec("glob", "text", pattern).matches(self._path("."))


def _is_glob(items: list[StoreItem]) -> bool:
    return any(c in GLOB_CHARS for item in items for c in item.path)


def top_entry(path: str) -> str:
    """`@scope/name/...` -> `@scope/name`; `name/...` -> `name`."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") and len(parts) > 1 else parts[0]


def read_snapshot(
    repo: Path,
    specs: Iterable[StoreSpec],
    previous: Snapshot | None = None,
    *,
    changed: Collection[str] | None = None,
) -> Snapshot:
    """The stores now. With `previous`, the stores not in `changed` (the watcher saw no
    write to them) and a database that never holds still keep what they said before."""
    states: list[StoreState] = []
    images: dict[tuple[str, str], bytes] = {}
    for spec in specs:
        kept = previous is not None and spec.name in previous.stores
        if kept and changed is not None and spec.name not in changed:
            assert previous is not None
            states.append(previous.stores[spec.name])
            images.update({k: v for k, v in previous._images.items() if k[0] == spec.name})
            continue
        try:
            reading = read_store(repo, spec)
        except DatabaseBusy:
            if kept and previous is not None:
                states.append(previous.stores[spec.name])
                images.update({k: v for k, v in previous._images.items() if k[0] == spec.name})
            else:
                states.append(StoreState(spec.name, spec.kind))
            continue
        states.append(reading.state)
        images.update({(spec.name, path): image for path, image in reading.images.items()})
    return Snapshot(states, repo=repo, images=images,
                    previous=previous.detached() if previous is not None else None)
