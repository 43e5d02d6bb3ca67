"""The watched state as the state pane shows it: the last snapshot and the file feed.

The stores are shown by the names the scenario declares: the documents (json and
text stores), the databases' rows and the trees. No Textual here (the view model
folds into it).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from explorer.events import StateSnapshot, StoreState

FEED_CAP = 200  # file changes the feed keeps
DOCUMENT_KINDS = ("json", "text")


@dataclass
class StateView:
    snapshot: StateSnapshot | None = None
    previous: StateSnapshot | None = None  # the snapshot before, to mark what changed
    feed: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=FEED_CAP))
    version: int = 0

    def stores(self, *kinds: str) -> list[StoreState]:
        snap = self.snapshot
        return [s for s in (snap.all_stores() if snap else []) if s.kind in kinds]

    def document_lines(self) -> list[tuple[str, bool]]:
        """Each json or text store's lines, each flagged when its part changed in the last
        snapshot; a store of several files is headed by each file's path."""
        before = {(s.name, i.path): i.text for s in (
            self.previous.all_stores() if self.previous else []) for i in s.items}
        out: list[tuple[str, bool]] = []
        for store in self.stores(*DOCUMENT_KINDS):
            if not store.items:
                out.append((f"(no {store.name})", False))
            for item in store.items:
                if len(store.items) > 1:
                    out.append((f"{store.name}: {item.path}", False))
                previous = before.get((store.name, item.path))
                if store.kind == "json":
                    out.extend(lockfile_lines(item.text, previous, store.name))
                else:
                    changed = item.text != previous
                    out.extend((line, changed) for line in (item.text or "").splitlines())
        return out or [("(no json or text store declared)", False)]


def _parse(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def lockfile_lines(
    text: str | None, previous: str | None, name: str = "lockfile"
) -> list[tuple[str, bool]]:
    """A JSON object of entries, pretty, each entry flagged when it changed."""
    if text is None:
        return [(f"(no {name})", False)]
    data = _parse(text)
    if data is None:
        return [(f"{name} does not parse as JSON:", True)] + [
            (line, True) for line in text.splitlines() or [""]
        ]
    before = _parse(previous) or {}
    changed = {key for key, entry in data.items() if before.get(key) != entry}
    out: list[tuple[str, bool]] = [("{", False)]
    names = sorted(data)
    for pos, key in enumerate(names):
        entry_text = json.dumps({key: data[key]}, indent=2, sort_keys=True, ensure_ascii=False)
        body = entry_text.splitlines()[1:-1]
        if pos < len(names) - 1:
            body[-1] += ","
        out.extend((line, key in changed) for line in body)
    out.append(("}", False))
    out.extend((f"  (removed {key})", True) for key in sorted(set(before) - set(data)))
    return out
