"""The "why" view of an iteration that broke: the causal steps, and the stores diffed.

Built on explorer/why.py, the account `replay --headless --why` prints and the HTML
report shows: for each entity a failing break concerns (`@stress/alpha`, or the
stores as a whole), only the steps that touched it, in order, each with its child,
the checkpoint or call it ran from and to, and the store change it made; then the
last consistent look at the stores beside the first broken one. When `shrink` left
a smaller case beside the trace, the steps are that case's: the fewest that still
fail. Small and static: one scrollable text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from explorer.events import Event
from explorer.rerun import RERUN_ITERATION
from explorer.shrink import shrunk_path
from explorer.trace import TraceError, TraceReader
from explorer.tui.history import History
from explorer.tui.line_view import printable
from explorer.tui.shorten import short_checkpoint
from explorer.why import Step, Why, breaks_to_explain, explain


@dataclass(frozen=True)
class WhySource:
    """The events explained, and where they come from, in words."""

    events: list[Event]
    words: str
    shrunk: bool = False


def why_source(history: History, iteration: int, trace: Path | None) -> WhySource:
    """The shrunk case of `iteration` when there is a readable one beside `trace`; else the
    iteration as recorded."""
    kept = shrunk_path(trace, iteration) if trace is not None else None
    recorded = WhySource(history.events(iteration), "its recorded schedule")
    if kept is None or not kept.exists():
        return recorded
    try:
        events = TraceReader(kept).iteration_events(RERUN_ITERATION)
    except (TraceError, KeyError, OSError) as exc:
        return WhySource(recorded.events, f"its recorded schedule (the shrunk case: {exc})")
    return WhySource(events, f"its shrunk case, {kept.name}: the fewest steps that still fail",
                     shrunk=True)


def whys_of(events: list[Event]) -> list[Why]:
    return explain(events, breaks_to_explain(events))


# -- in rich text ------------------------------------------------------------------------------


def _moves(step: Step, child: int) -> str:
    start = short_checkpoint(step.start.get(child, "start"))
    if step.action == "kill":
        return f"KILLED at {start}"
    if step.action == "blocked":
        return f"blocked after {start}"
    return f"{start} → {short_checkpoint(step.end.get(child, '…'))}"


def _steps_table(why: Why, t0: float) -> Table:
    labels = {c.child: c.label for c in why.children}
    table = Table(box=None, expand=True, pad_edge=False, header_style="bold")
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("child", no_wrap=True, max_width=32)
    table.add_column("checkpoint or call", no_wrap=True)
    table.add_column("what it did to the stores", ratio=1)
    for step in why.steps:
        breaking = step.number == why.breaking_step and step.action != "free"
        # Without a scheduler's decisions a step is a stretch between two looks: its time.
        number = f"{step.number}" if step.action != "free" else f"{step.t - t0:.2f}s"
        lines = [Text(printable(c.describe(named=why.entity is None))) for c in step.changes]
        lines += [Text(printable(f"#{child} printed: {line}"), style="dim")
                  for child, line in step.output]
        lines += [Text(printable(f"now broken: {b.invariant}: {b.message}"), style="bold red")
                  for b in step.appeared]
        what = Text("\n").join(lines)
        style = "on #3a0000" if breaking else ""
        for i, child in enumerate(step.children):
            table.add_row(
                Text(("▶ " if breaking else "") + number if i == 0 else "",
                     style="bold red" if breaking else ""),
                printable(f"#{child} {labels.get(child, '?')}"),
                printable(_moves(step, child)),
                what if i == 0 else Text(""),
                style=style,
            )
    return table


def _diff_table(why: Why) -> Table | Text:
    broken, before = why.first_broken, why.last_consistent
    if broken is None:
        return Text("The stores' looks never showed it broken.", style="dim")
    table = Table(box=None, expand=True, pad_edge=False, header_style="bold")
    table.add_column("store", no_wrap=True)
    table.add_column("last consistent" + (f", after step {before.after_step}" if before
                                          else ": never, in this iteration's looks"), ratio=1)
    table.add_column(f"first broken, after step {broken.after_step}", ratio=1)
    # the stores by the names the scenario declared, in the order the look gave them
    for store in dict.fromkeys([*(before.view if before else {}), *broken.view]):
        old = before.view.get(store, "?") if before else "—"
        new = broken.view.get(store, "?")
        changed = before is not None and old != new
        table.add_row(store + (" ≠" if changed else ""), printable(old), printable(new),
                      style="bold" if changed else "dim")
    return table


def why_renderable(whys: list[Why], t0: float) -> RenderableType:
    parts: list[RenderableType] = []
    for why in whys:
        about = why.entity or "the stores"
        parts.append(Text(printable(about), style="bold reverse"))
        for brk in why.breaks:
            kind = brk.classification or "unclassified"
            said = f"✗ {brk.invariant} [{kind}] {brk.message}"
            parts.append(Text(printable(said), style="red"))
        who = ", ".join(f"#{c.child} {c.label}" for c in why.children) or "none recorded"
        parts.append(Text(printable(f"children that touched {about}: {who}")))
        parts.append(Text(""))
        parts.append(_steps_table(why, t0) if why.steps else Text(
            f"No recorded step touched {about}.", style="dim"))
        parts.append(Text(""))
        parts.append(_diff_table(why))
        parts.append(Text(""))
    return Group(*parts)


class WhyScreen(Screen[None]):
    AUTO_FOCUS = "#why"  # the keys scroll it at once (PageDown, End)
    BINDINGS = [
        Binding("w,escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, iteration: int, source: WhySource) -> None:
        super().__init__()
        self.iteration = iteration
        self.source = source
        self.whys = whys_of(source.events)

    def compose(self) -> ComposeResult:
        title = Text(f" Why iteration {self.iteration} broke", style="bold")
        title.append(f" · the steps on what broke, from {self.source.words}")
        yield Static(title, id="why-title")
        t0 = self.source.events[0].t if self.source.events else 0.0
        with VerticalScroll(id="why"):
            yield Static(why_renderable(self.whys, t0), id="why-text")
        yield Footer()
