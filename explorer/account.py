"""A readable account of a recorded run, for `race-explorer replay --headless`.

Without an iteration: what ran and each block's verdict with its breaks.
With one: every event of that block in order, timed from the block's start,
so the interleaving that led to a break can be read line by line.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from rich.console import Console
from rich.text import Text

from explorer.events import (
    Break,
    CheckpointReached,
    ChildExited,
    ChildOutput,
    ChildStarted,
    Event,
    FileChanged,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    ScheduleDecision,
    StateSnapshot,
    StoreState,
    block_name,
)
from explorer.invariants import parse_entries
from explorer.trace import TraceReader
from explorer.visible import visible, visible_record
from explorer.vocabulary import style

# What the summary tells; the other lines (output, snapshots, checks: most of a large trace's
# bytes) are only checked to be framed events, never parsed, so a summary streams fast.
SUMMARY_KINDS = frozenset(cls.kind for cls in (
    RunStarted, IterationStarted, ChildExited, FileChanged, IterationFinished, RunFinished))


def _out(console: Console, text: Text | str, style: str = "") -> None:
    item = text if isinstance(text, Text) else Text(text, style=style)
    console.print(item, soft_wrap=True, markup=False, highlight=False)


def _block_name(event: IterationStarted) -> str:
    name = block_name(event.block, event.iteration)
    # The block number says what --iteration replays, for the blocks named otherwise.
    return name if event.block == "iteration" else f"{name} (block {event.iteration})"


def _break_lines(breaks: Sequence[Break], indent: str = "    ") -> Iterable[Text]:
    for brk in breaks:
        line = Text(indent)
        line.append(brk.invariant, style="bold")
        line.append(f" [{brk.classification or 'unclassified'}"
                    + (f", carried over: first seen at {brk.first_seen}" if brk.carried else "")
                    + "] ")
        line.append(brk.message)
        yield line


def _row_label(row: Mapping[str, object]) -> str:
    """`name@version state` for rows that have those columns."""
    if "name" not in row:
        return ""
    text = str(row["name"]) + (f"@{row['version']}" if "version" in row else "")
    return text + (f" {row['state']}" if "state" in row else "")


def describe_store(state: StoreState) -> str:
    """One store in a few words, by its declared name."""
    name = state.name
    if state.kind == "tree":
        count = sum(len(item.files) for item in state.items)
        return f"{name} has {count} file(s)" if state.items else f"no {name}"
    if state.kind == "sqlite":
        if not state.items:
            return f"no {name}"
        rows = [dict(zip(t.columns, r, strict=False))
                for item in state.items for t in item.tables for r in t.rows]
        groups = Counter(_row_label(row) for row in rows)
        shown = ", ".join(f"{g} x{n}" if n > 1 else g for g, n in sorted(groups.items()) if g)
        return f"{name} has {len(rows)} row(s)" + (f" ({shown})" if shown else "")
    texts = [item.text for item in state.items if item.text is not None]
    if not texts:
        return f"no {name}"
    if state.kind == "text":
        return f"{name}: {sum(len(t) for t in texts)} bytes"
    parts = []
    for text in texts:
        entries = parse_entries(text)
        if entries is None:
            parts.append(f"{name} does not parse ({len(text)} bytes)")
        else:
            parts.append(name + " {" + ", ".join(
                f"{key}@{entry['version']}" if isinstance(entry, dict) and "version" in entry
                else key for key, entry in sorted(entries.items())) + "}")
    return "; ".join(parts)


def describe_snapshot(event: StateSnapshot) -> str:
    stores = event.all_stores()
    return "; ".join(describe_store(s) for s in stores) if stores else "no stores declared"


def summary(reader: TraceReader, console: Console) -> None:
    header = reader.header
    _out(console, f"trace {reader.path}", "bold")
    argv = header.get("argv")
    argv = argv if isinstance(argv, list) else []
    _out(console, visible(f"  recorded {header.get('started_at')} by race-explorer "
                          f"{header.get('explorer')}: {shlex.join(map(str, argv))}"))
    labels: dict[int, str] = {}
    started: IterationStarted | None = None
    exits: dict[int, str] = {}
    changes = 0
    for event in map(visible_record, reader.iter_events(kinds=SUMMARY_KINDS)):
        if isinstance(event, RunStarted):
            _out(console, f"  scenario {event.scenario}, seed {event.seed}, {event.iterations} "
                          f"iterations, strategy {event.strategy}"
                          + (f", profile {event.profile}" if event.profile else "")
                          + (f", bugs {','.join(event.bugs)}" if event.bugs else ""))
            for op in event.ops:
                _out(console, f"  child {op.child}: {op.label}")
            _out(console, "  invariants: " + ", ".join(
                f"{i.name} ({i.when})" for i in event.invariants))
        elif isinstance(event, IterationStarted):
            started, exits, changes = event, {}, 0
            labels = {c.child: c.label for c in event.children}
        elif isinstance(event, ChildExited):
            exits[event.child] = event.outcome
        elif isinstance(event, FileChanged):
            changes += len(event.changes)
        elif isinstance(event, IterationFinished) and started is not None:
            line = Text(f"{_block_name(started)}: ")
            line.append(event.verdict, style=style(event.verdict))
            ops = ", ".join(f"{labels.get(c, c)} {how}" for c, how in sorted(exits.items()))
            line.append(f" in {event.duration:.2f} s; {changes} file change(s)"
                        + (f"; {ops}" if ops else ""))
            _out(console, line)
            for text in _break_lines(event.breaks):
                _out(console, text)
        elif isinstance(event, RunFinished):
            counts = ", ".join(f"{v} {k}" for k, v in event.counts.items())
            state = "interrupted" if event.interrupted else f"exit {event.exit_code}"
            state += f" ({visible(event.error)})" if event.error else ""
            _out(console, f"run finished: {event.iterations} iteration(s), {state}; "
                          f"breaks: {counts}", "bold")
    _out(console, f"details of one block: race-explorer replay {shlex.quote(str(reader.path))} "
                  "--headless --iteration N", "dim")


def block_account(reader: TraceReader, iteration: int, console: Console) -> None:
    events = reader.iteration_events(iteration)
    start = events[0].t if events else 0.0
    labels: dict[int, str] = {}
    for event in map(visible_record, events):
        stamp = f"+{event.t - start:7.3f}s "
        for text in _describe(event, labels):
            line = Text(stamp, style="dim")
            line.append_text(text)
            _out(console, line)
            stamp = " " * len(stamp)


def _describe(event: Event, labels: dict[int, str]) -> Iterable[Text]:
    def who(child: int) -> str:
        return f"[{child} {labels.get(child, '?')}]"

    if isinstance(event, IterationStarted):
        labels.update({c.child: c.label for c in event.children})
        yield Text(f"{_block_name(event)} starts with {len(event.children)} child(ren)",
                   style="bold")
    elif isinstance(event, ChildStarted):
        yield Text(f"{who(event.child)} started, pid {event.pid}: {shlex.join(event.argv)}")
    elif isinstance(event, ChildOutput):
        mark = "!" if event.stream == "stderr" else "|"
        yield Text(f"{who(event.child)} {mark} {event.line}",
                   style="red" if event.stream == "stderr" else "")
    elif isinstance(event, ChildExited):
        yield Text(f"{who(event.child)} {event.outcome}", style="bold" if event.returncode else "")
    elif isinstance(event, FileChanged):
        yield Text("files: " + ", ".join(f"{kind} {path}" for kind, path in event.changes),
                   style="blue")
    elif isinstance(event, StateSnapshot):
        yield Text(f"state ({event.phase}): {describe_snapshot(event)}", style="cyan")
        if event.phase != "live":
            for store in event.all_stores():
                for item in store.items if store.kind == "json" else ():
                    try:
                        pretty = json.dumps(json.loads(item.text or ""), sort_keys=True)
                    except json.JSONDecodeError:
                        pretty = item.text or ""
                    yield Text(f"  {store.name} {item.path}: {pretty[:300]}", style="dim")
    elif isinstance(event, InvariantChecked):
        if event.ok:
            yield Text(f"{event.invariant} ({event.phase}): ok", style="green")
        else:
            yield Text(f"{event.invariant} ({event.phase}): broken", style="red")
            yield from _break_lines(event.breaks, "  ")
    elif isinstance(event, CheckpointReached):
        yield Text(f"{who(event.child)} at checkpoint {event.name}", style="magenta")
    elif isinstance(event, ScheduleDecision):
        parked = ", ".join(f"{c}@{name}" for c, name in event.parked) or "none"
        yield Text(f"schedule step {event.step}: {event.action} child {event.chosen} "
                   f"(parked: {parked})", style="magenta")
    elif isinstance(event, IterationFinished):
        yield Text(f"verdict: {event.verdict} after {event.duration:.3f} s",
                   style=style(event.verdict))
        yield from _break_lines(event.breaks, "  ")
    elif isinstance(event, RunFinished):
        yield Text(f"run finished: exit {event.exit_code}")


def render(reader: TraceReader, console: Console, iteration: int | None = None) -> None:
    if iteration is None:
        summary(reader, console)
    else:
        block_account(reader, iteration, console)


def why_account(reader: TraceReader, iteration: int, console: Console,
                shrunk: TraceReader | None = None) -> bool:
    """The causal steps of the iteration's failing breaks (or of any break, if none failed),
    from the shrunk case when there is one; False when the iteration has no break at all."""
    from explorer.rerun import RERUN_ITERATION  # only this account needs these
    from explorer.why import breaks_to_explain, describe, explain

    events = reader.iteration_events(iteration)
    source = f"iteration {iteration} of {reader.path}, under its recorded schedule"
    if shrunk is not None:
        events = shrunk.iteration_events(RERUN_ITERATION)  # a shrunk case is a rerun
        source = (f"the shrunk case of iteration {iteration} ({shrunk.path}), the smallest "
                  "schedule that still fails")
    wanted = breaks_to_explain(events)
    if not wanted:
        _out(console, f"{source}: no break, nothing to explain")
        return False
    _out(console, f"why: {source}", "bold")
    for why in explain(events, wanted):
        _out(console, "")
        _out(console, f"{why.entity or 'the stores'}:", "bold")
        for line in describe(why):
            _out(console, visible("  " + line),
                 "bold red" if line.startswith("▶") else "")
    return True
