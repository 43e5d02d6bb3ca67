"""The timeline's rows: a block's entries, file events grouped, the first break marked.

No Textual here. File changes are not attributed to a child (the watcher sees paths,
not processes), so a group is what changed after one child's step: the run of file
changes and snapshots between two lane events, named by the step before it ("after
#1 ◆ lockfile_written"). A group is one row until expanded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from explorer.tui.model import BlockView, TimelineEntry


@dataclass
class TimelineRow:
    entry: TimelineEntry  # the row's own entry, or a group's first
    group: int | None = None  # a group's number (its first entry's position)
    members: list[TimelineEntry] = field(default_factory=list)  # a group's entries
    expanded: bool = False
    member: bool = False  # a row inside an expanded group
    first_break: bool = False  # where the block's state first went wrong
    running: frozenset[int] = frozenset()  # lanes of the children running at this row


def group_text(members: list[TimelineEntry], after: TimelineEntry | None) -> str:
    files = [m for m in members if m.kind == "file"]
    kinds = Counter(m.text.split(" ", 1)[0] for m in files)
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    names = sorted({m.text.rsplit("/", 1)[-1] for m in files})
    where = f" after #{after.lane} {after.text}" if after is not None else ""
    return f"± {len(files)} file changes{where} ({counts}): {', '.join(names)}"


def _is_state(entry: TimelineEntry) -> bool:
    return entry.lane is None and entry.kind in ("file", "snapshot")


def timeline_rows(block: BlockView, expanded: set[int]) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    running: set[int] = set()
    first_break_seen = False
    entries = block.timeline
    i = 0
    while i < len(entries):
        entry = entries[i]
        if _is_state(entry):
            j = i
            while j < len(entries) and _is_state(entries[j]):
                j += 1
            members = entries[i:j]
            if sum(1 for m in members if m.kind == "file") >= 2:
                group = TimelineRow(
                    entry, group=i, members=members, expanded=i in expanded,
                    running=frozenset(running),
                )  # fmt: skip
                rows.append(group)
                if group.expanded:
                    rows.extend(
                        TimelineRow(m, member=True, running=frozenset(running)) for m in members
                    )
                i = j
                continue
        if entry.kind == "start" and entry.lane is not None:
            running.add(entry.lane)
        first = entry.kind == "break" and not first_break_seen
        first_break_seen = first_break_seen or entry.kind == "break"
        rows.append(TimelineRow(entry, first_break=first, running=frozenset(running)))
        if entry.kind == "exit" and entry.lane is not None:
            running.discard(entry.lane)
        i += 1
    # A group's label names the step before it, known once the rows are in order.
    last_lane: TimelineEntry | None = None
    for row in rows:
        if row.group is not None:
            row.entry = TimelineEntry(
                row.entry.t, None, "file", group_text(row.members, last_lane), row.entry.index
            )
        elif not row.member and row.entry.kind in ("start", "checkpoint", "exit"):
            last_lane = row.entry
    return rows
