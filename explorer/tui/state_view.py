"""The watched state as the state pane shows it: the last snapshot and the file feed.

No Textual here (the view model folds into it).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from explorer.events import StateSnapshot

FEED_CAP = 200  # file changes the feed keeps


@dataclass
class StateView:
    snapshot: StateSnapshot | None = None
    previous_lockfile: str | None = None
    feed: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=FEED_CAP))
    version: int = 0

    def lockfile_lines(self) -> list[tuple[str, bool]]:
        """Pretty lockfile lines, each flagged when its entry changed in the last snapshot."""
        return lockfile_lines(
            self.snapshot.lockfile if self.snapshot else None, self.previous_lockfile
        )


def _parse(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def lockfile_lines(text: str | None, previous: str | None) -> list[tuple[str, bool]]:
    if text is None:
        return [("(no lockfile)", False)]
    data = _parse(text)
    if data is None:
        return [("lockfile does not parse as JSON:", True)] + [
            (line, True) for line in text.splitlines() or [""]
        ]
    before = _parse(previous) or {}
    changed = {name for name, entry in data.items() if before.get(name) != entry}
    out: list[tuple[str, bool]] = [("{", False)]
    names = sorted(data)
    for pos, name in enumerate(names):
        entry_text = json.dumps({name: data[name]}, indent=2, sort_keys=True, ensure_ascii=False)
        body = entry_text.splitlines()[1:-1]
        if pos < len(names) - 1:
            body[-1] += ","
        out.extend((line, name in changed) for line in body)
    out.append(("}", False))
    out.extend((f"  (removed {name})", True) for name in sorted(set(before) - set(data)))
    return out
