"""Two lines on top: what runs (scenario, seed, profile, bugs) and how far it got.

No clock here: snapshots and screenshots must be byte-identical run to run.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from explorer.tui.model import RunView


def header_text(view: RunView, status: str, where: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" race-explorer ", style="bold reverse")
    started = view.started
    if started is None:
        text.append("  waiting for the run to start…")
        return text
    text.append(f"  {started.scenario}", style="bold")
    text.append(f" · seed {started.seed} · {started.strategy}")
    if started.profile:
        text.append(f" · profile {started.profile}")
    if started.bugs:
        text.append(" · bugs ")
        text.append(",".join(started.bugs), style="bold red")
    text.append("\n ")
    text.append(status, style="bold")
    text.append(f"  iteration {view.iterations_done}/{view.total_iterations}")
    rate = view.iterations_per_second
    if rate is not None:
        text.append(f" · {rate:.1f} it/s")
    counts = view.counts
    for cls, style in (("tolerated", "yellow"), ("healed", "magenta"), ("persistent", "red")):
        text.append(" · ")
        text.append(f"{cls} {counts.get(cls, 0)}", style=style if counts.get(cls) else "")
    if where:
        text.append(f"  │ {where}", style="italic")
    return text


class RunHeader(Static):
    def __init__(self) -> None:
        super().__init__(id="run-header")
        self._shown: Text | None = None

    def show(self, view: RunView, status: str, where: str = "") -> None:
        text = header_text(view, status, where)
        if text != self._shown:
            self._shown = text
            # Fixed height: no layout pass, which would repaint the whole screen each frame.
            self.update(text, layout=False)
