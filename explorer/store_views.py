"""What each declared store says of one entity, in a few words, and what changed between two
looks: the views `why` diffs (a lockfile entry's version and files, an entity's catalog
rows and their states, its files in the tree, a text store's first line)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer.events import StateSnapshot
from explorer.invariants import parse_entries
from explorer.snapshot import Row, Snapshot, top_entry

SHOWN_FILES = 3
SHOWN_CHARS = 60  # of a text store's first line


@dataclass(frozen=True)
class StoreChange:
    entity: str | None  # None: the stores as a whole (a lockfile that does not parse)
    store: str
    before: str
    after: str

    def describe(self, *, named: bool = True) -> str:
        who = f"{self.entity} " if named and self.entity else ""
        return f"{self.store} {who}{self.before} → {self.after}"


def view(snapshot: StateSnapshot, entity: str | None) -> dict[str, str]:
    """What each declared store says, of one entity (None: of everything); a text store
    says nothing of an entity."""
    stores = Snapshot.from_event(snapshot)
    out = {}
    for name, state in stores.stores.items():
        if state.kind == "json":
            out[name] = _json_view(name, stores.text(name), entity)
        elif state.kind == "sqlite":
            out[name] = _rows_view(stores.rows(name), entity)
        elif state.kind == "tree":
            out[name] = _tree_view(stores.files(name), entity)
        elif entity is None:
            texts = stores.texts(name)
            out[name] = _text_view(name, texts)
    return out


def _json_view(name: str, text: str | None, entity: str | None) -> str:
    entries = parse_entries(text)
    if text is None:
        return f"no {name}"
    if entries is None:
        return f"does not parse ({len(text)} bytes)"
    if entity is None:
        return "{" + ", ".join(f"{n}@{_version(e)}" for n, e in sorted(entries.items())) + "}"
    if entity not in entries:
        return "no entry"
    files = entries[entity].get("files") if isinstance(entries[entity], dict) else None
    count = f" ({len(files)} files)" if isinstance(files, list) else ""
    return f"{_version(entries[entity])}{count}"


def _rows_view(rows: Sequence[Row], entity: str | None) -> str:
    """Rows keyed by their first column (what `entity_names` takes for a name); rows with
    a name, a version and a state are told by those."""
    if entity is not None:
        rows = [r for r in rows if r and str(next(iter(r.values()))) == entity]
    if rows and {"name", "version", "state"} <= rows[0].keys():
        states = sorted({(str(r["name"]), str(r["version"]), str(r["state"])) for r in rows})
        if entity is None:
            live = sorted({f"{n}@{v}" for n, v, st in states if st == "Indexed"})
            return f"indexes {{{', '.join(live)}}} ({len(rows)} rows)"
        return ", ".join(f"{v} {st}" for _, v, st in states)
    if entity is None:
        return f"{len(rows)} row(s)"
    shown = sorted({" ".join(str(v) for v in list(r.values())[1:]) for r in rows})
    return ", ".join(shown) or "no rows"


def _tree_view(files: Sequence[str], entity: str | None) -> str:
    # an entity's files: under it (`@scope/name/...`), or named by it (`heads/main`)
    files = [f for f in files
             if entity is None or top_entry(f) == entity or entity in f.split("/")]
    short = [f.removeprefix(f"{entity}/") for f in files[:SHOWN_FILES]]
    more = f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else ""
    return f"{len(files)} file(s)" + (f" ({', '.join(short)}{more})" if files else "")


def _text_view(name: str, texts: dict[str, str]) -> str:
    if not texts:
        return f"no {name}"
    if len(texts) > 1:
        paths = sorted(texts)
        more = f" and {len(paths) - SHOWN_FILES} more" if len(paths) > SHOWN_FILES else ""
        return f"{len(paths)} files ({', '.join(paths[:SHOWN_FILES])}{more})"
    text = next(iter(texts.values()))
    lines = text.splitlines()
    first = (lines[0] if lines else "")[:SHOWN_CHARS]
    return repr(first) + (f" ({len(lines)} lines)" if len(lines) > 1 else "")


def _version(entry: object) -> str:
    return str(entry.get("version")) if isinstance(entry, dict) else "?"


def names(*views: dict[str, str]) -> list[str]:
    """The stores the views name, in their order."""
    return list(dict.fromkeys(name for view in views for name in view))


def changes(before: StateSnapshot | None, after: StateSnapshot) -> list[StoreChange]:
    """Every store's view that differs between two looks, of the whole and of each entity."""
    if before is None:
        return []
    out = []
    entities = (Snapshot.from_event(before).entity_names()
                | Snapshot.from_event(after).entity_names())
    for entity in [None, *sorted(entities)]:
        out += diff(entity, view(before, entity), view(after, entity))
    return out


def diff(entity: str | None, before: dict[str, str], after: dict[str, str]) -> list[StoreChange]:
    """The stores whose view of the entity differs between two views."""
    return [StoreChange(entity, s, before.get(s, "?"), after.get(s, "?"))
            for s in names(before, after) if before.get(s) != after.get(s)]
