"""`race-explorer report`: one self-contained HTML page to attach to a CI run.

The run's summary, its failures grouped by kind, and for each failing
iteration the swimlane timeline (a lane per child: the checkpoints each ran
between, the store changes each step made, the breaks as they appeared), the
causal steps (why.py) and the commands that reproduce it. Inline CSS only: no
script, no network, no external asset, so the file opens anywhere, offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from explorer.events import ChildSpec, IterationFinished, RunStarted
from explorer.failures import FailureCollector, collect
from explorer.junit import KINDS
from explorer.trace import TraceReader, replay_command, shrink_command, why_command
from explorer.why import Step, Why, explain, timeline

MAX_ITERATIONS = 30  # failing iterations drawn per trace; the rest are listed
LANE_COLOURS = ("#2563eb", "#16a34a", "#db2777", "#ca8a04", "#7c3aed", "#0891b2")

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2937; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin-top: 28px; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12.5px; }
.muted { color: #6b7280; } .bad { color: #b91c1c; } .good { color: #15803d; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #e5e7eb; padding: 3px 7px; vertical-align: top; text-align: left; }
th { background: #f3f4f6; }
.kinds td:nth-child(2) { text-align: right; }
.lane { font-family: ui-monospace, monospace; font-size: 12px; }
table.swimlane { width: 100%; table-layout: fixed; } .swimlane td { overflow-wrap: anywhere; }
.swimlane th:first-child { width: 3.5em; }
.run { border-left: 4px solid var(--c); padding-left: 4px; }
tr.why td { background: #fffbeb; } tr.broke td { background: #fee2e2; }
tr.broke td:first-child::before { content: "▶ "; color: #b91c1c; }
.change { font-family: ui-monospace, monospace; font-size: 12px; }
.appeared { color: #b91c1c; font-size: 12px; } .resolved { color: #15803d; font-size: 12px; }
pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: 8px; white-space: pre-wrap; }
details { margin: 10px 0 18px; } summary { cursor: pointer; font-weight: 600; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_report(traces: Sequence[Path], notes: Sequence[str] = ()) -> str:
    """The page for one or more traces (one section each, as for a run's shards); `notes`
    say what the page lacks (a shard missing or damaged), first."""
    said = "".join(f"<p class=bad>{_e(note)}</p>" for note in notes)
    body = said + "".join(_trace_section(TraceReader(t)) for t in traces)
    title = "race-explorer report"
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


def write_report(out: Path, traces: Sequence[Path], notes: Sequence[str] = ()) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(traces, notes), encoding="utf-8")


def _trace_section(reader: TraceReader) -> str:
    failures = collect(reader.iter_events(kinds=KINDS | {RunStarted.kind}))
    run = _run_started(reader)
    parts = [f"<h1>race-explorer: {_e(failures.scenario)}</h1>",
             f"<p class=muted>trace <code>{_e(reader.path.absolute())}</code></p>",
             _summary(run, failures), _kinds(failures, reader.path)]
    failing = sorted({f.iteration for g in failures.groups.values() for f in g.failures
                      if f.block == "iteration"})
    for n, iteration in enumerate(failing):
        if n == MAX_ITERATIONS:
            rest = ", ".join(map(str, failing[n:]))
            parts.append(f"<p class=muted>not drawn here: iterations {_e(rest)} (see "
                         f"<code>race-explorer replay TRACE --headless --iteration N "
                         f"--why</code>)</p>")
            break
        parts.append(_iteration(reader, iteration, open_=n == 0))
    if reader.warning:
        parts.append(f"<p class=bad>{_e(reader.warning)}</p>")
    return "<section>" + "".join(parts) + "</section>"


def _run_started(reader: TraceReader) -> RunStarted | None:
    for event in reader.iter_events(kinds={RunStarted.kind}):
        if isinstance(event, RunStarted):
            return event
    return None


def _summary(run: RunStarted | None, failures: FailureCollector) -> str:
    rows = []
    if run is not None:
        how = f"strategy {run.strategy}, seed {run.seed}"
        how += f", profile {run.profile}" if run.profile else ""
        how += f", bugs {','.join(run.bugs)}" if run.bugs else ""
        rows.append(("run", f"{run.iterations} iterations of {len(run.ops)} children; {how}"))
        rows.append(("children", "; ".join(f"{op.child}: {op.label}" for op in run.ops)))
    done = failures.finished
    if done is not None:
        verdict = ("interrupted" if done.interrupted
                   else "failed" if done.exit_code else "no unexplained break")
        rows.append(("verdict", f"{verdict} (exit {done.exit_code}), {done.iterations} "
                     "iterations run"))
        rows.append(("breaks", ", ".join(f"{c} {k}" for k, c in done.counts.items())))
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                               for k, v in rows) + "</table>"


def _kinds(failures: FailureCollector, trace: Path) -> str:
    if not failures.groups:
        return "<h2>Failures</h2><p class=good>none</p>"
    rows = []
    for number, group in enumerate(failures.groups.values(), 1):
        its = group.iterations
        span = f"{its[0]}–{its[-1]}" if len(its) > 1 else str(its[0])
        carried = f" (+{len(group.carried)} carried over)" if group.carried else ""
        rows.append(
            f"<tr><td>#{number}</td><td>{len(group.failures)}{_e(carried)}</td>"
            f"<td>{_e(span)}</td><td><b>{_e(group.invariant)}</b> "
            f"[{_e(group.classification)}] {_e(group.kind[2])}<br><span class=muted>first: "
            f"{_e(group.first.name)}: {_e(group.first.brk.message)}</span></td>"
            f"<td><code>{_e(group.reproduce(trace))}</code></td></tr>")
    return (f"<h2>Failures: {failures.counted} of {len(failures.groups)} kind(s)</h2>"
            "<table class=kinds><tr><th>kind</th><th>count</th><th>blocks</th><th>what</th>"
            "<th>reproduce</th></tr>" + "".join(rows) + "</table>")


def _iteration(reader: TraceReader, iteration: int, *, open_: bool) -> str:
    events = reader.iteration_events(iteration)
    steps, children = timeline(events)
    finished = next((e for e in events if isinstance(e, IterationFinished)), None)
    failing = [b for b in (finished.breaks if finished else []) if b.is_failure]
    whys = explain(events, failing)
    heads = "; ".join(f"{b.invariant} [{b.classification}]" for b in failing)
    trace = reader.path
    commands = (f"<pre>re-execute:   {_e(replay_command(trace, iteration, rerun=True))}\n"
                f"step by step: {_e(why_command(trace, iteration))}\n"
                f"shrink:       {_e(shrink_command(trace, iteration))}\n"
                f"in the app:   {_e(replay_command(trace, iteration))}</pre>")
    return (f"<details{' open' if open_ else ''}><summary>iteration {iteration}: "
            f"{_e(heads)}</summary>"
            + "".join(f"<p class=bad>{_e(b.invariant)}: {_e(b.message)}</p>" for b in failing)
            + "<h3>Why</h3>" + "".join(_why(w) for w in whys)
            + "<h3>Timeline</h3>" + _swimlane(steps, children, whys)
            + "<h3>Reproduce</h3>" + commands + "</details>")


def _why(why: Why) -> str:
    about = why.entity or "the stores"
    who = ", ".join(f"child {c.child} ({c.label})" for c in why.children) or "none recorded"
    rows = []
    for s in why.steps:
        labels = {c.child: c.label for c in why.children}
        cls = "broke" if s.number == why.breaking_step and s.action != "free" else ""
        changes = "<br>".join(_e(c.describe(named=why.entity is None)) for c in s.changes)
        said = "<br>".join(f"child {c}: {_e(line)}" for c, line in s.output)
        broken = "".join(f"<div class=appeared>✗ {_e(b.invariant)}: {_e(b.message)}</div>"
                         for b in s.appeared)
        rows.append(f"<tr class='{cls}'><td class=lane>{_e(s.number)}</td>"
                    f"<td class=lane>{_e(s.moves(labels))}</td><td class=change>{changes}</td>"
                    f"<td class=muted>{said}</td><td>{broken}</td></tr>")
    table = ("<table><tr><th>step</th><th>who ran, from → to</th><th>store change</th>"
             "<th>printed</th><th>now broken</th></tr>" + "".join(rows) + "</table>")
    diff = ""
    if why.first_broken is not None:
        last = why.last_consistent
        changed = {c.store for c in why.diff()}
        head = (f"last consistent (after step {last.after_step})" if last
                else "never consistent")
        diff = ("<table><tr><th>store</th><th>" + _e(head) + "</th><th>first broken (after step "
                f"{why.first_broken.after_step})</th></tr>" + "".join(
                    f"<tr class='{'broke' if store in changed else ''}'><td>{store}</td>"
                    f"<td class=change>{_e(last.view[store] if last else '')}</td>"
                    f"<td class=change>{_e(why.first_broken.view[store])}</td></tr>"
                    for store in why.first_broken.view) + "</table>")
    return (f"<p><b>{_e(about)}</b>: the children that touched it: {_e(who)}</p>"
            + table + diff)


def _swimlane(steps: list[Step], children: list[ChildSpec], whys: list[Why]) -> str:
    causal = {s.number for w in whys for s in w.steps if s.action != "free"}
    breaking = {w.breaking_step for w in whys}
    head = "".join(f"<th style='--c:{_colour(c.child)}' class=run>child {c.child}<br>"
                   f"<span class=muted>{_e(c.label)}</span></th>" for c in children)
    rows = []
    for s in steps:
        cls = ("broke" if s.number in breaking and s.action != "free"
               else "why" if s.number in causal else "")
        lanes = "".join(_lane(s, c.child) for c in children)
        changes = [c for c in s.changes if c.entity is not None] or s.changes
        stores = "<br>".join(f"<span class=change>{_e(c.describe())}</span>" for c in changes)
        checks = "".join(f"<div class=appeared>✗ {_e(b.invariant)}: {_e(b.message)}</div>"
                         for b in s.appeared)
        checks += "".join(f"<div class=resolved>✓ {_e(b.invariant)}</div>" for b in s.resolved)
        number = s.number if s.action != "free" else "start"
        rows.append(f"<tr class='{cls}'><td class=lane>{_e(number)}</td>{lanes}"
                    f"<td>{stores}</td><td>{checks}</td></tr>")
    return (f"<table class=swimlane><tr><th>step</th>{head}<th>store changes</th>"
            f"<th>checks</th></tr>{''.join(rows)}</table>")


def _lane(s: Step, child: int) -> str:
    if child not in s.children:
        return "<td></td>"
    if s.action == "kill":
        what = f"KILLED at {s.start.get(child, '?')}"
    elif s.action == "blocked":
        what = f"blocked after {s.start.get(child, '?')}"
    else:
        what = f"{s.start.get(child, 'start')} → {s.end.get(child, '…')}"
    said = [line for c, line in s.output if c == child]
    out = f"<br><span class=muted>{len(said)} line(s) printed</span>" if said else ""
    return (f"<td class='lane run' style='--c:{_colour(child)}'>{_e(what)}{out}</td>")


def _colour(child: int) -> str:
    return LANE_COLOURS[child % len(LANE_COLOURS)]
