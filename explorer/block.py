"""What the runner knows about the block in progress, shared by the parts that watch it.

The runner writes the children's lines, exits, process groups and kills here;
the observer the stores' last snapshot and the live checks' results; the judge
reads all of it once the block's children are gone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from explorer.events import BlockKind, Break, ChildSpec, KillReason, Stream
from explorer.invariants import Transcript
from explorer.outcomes import History, Span
from explorer.snapshot import Snapshot


@dataclass
class Block:
    iteration: int
    specs: list[ChildSpec]
    lines: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    returncodes: dict[int, int | None] = field(default_factory=dict)
    pgids: dict[int, int] = field(default_factory=dict)
    live_results: dict[str, list[Break]] = field(default_factory=dict)
    live_breaks: list[Break] = field(default_factory=list)  # `always` invariants, while running
    last: Snapshot | None = None
    timed_out: list[str] = field(default_factory=list)
    fault_killed: list[list[str]] = field(default_factory=list)  # argv of children killed
    stamp: tuple[object, ...] = ()  # the stores' stamp (stores.stamp) when last looked at
    started: float = 0.0
    start_keys: set[tuple[str, str | None, str]] = field(default_factory=set)  # broken at start
    kind: BlockKind = "iteration"
    start: Snapshot | None = None  # the stores when the block began
    spans: dict[int, Span] = field(default_factory=dict)  # for the checks of outcomes
    stderr: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    _transcripts: History | None = None

    def add_line(self, child: int, text: str, stream: Stream = "stdout") -> None:
        self.lines[child].append(text)
        if stream == "stderr":
            self.stderr[child].append(text)
        self._transcripts = None

    def began(self, child: int, t: float) -> None:
        self.spans[child] = Span(self._argv(child), started=t)
        self._transcripts = None

    def exited(
        self, child: int, returncode: int | None, killed: KillReason | None = None,
        t: float | None = None,
    ) -> None:
        self.returncodes[child] = returncode
        span = self.spans.get(child) or Span(self._argv(child))
        self.spans[child] = replace(span, ended=t, killed=killed)
        self._transcripts = None

    def _argv(self, child: int) -> tuple[str, ...]:
        return next((tuple(s.argv) for s in self.specs if s.child == child), ())

    def transcripts(self) -> History:
        """The children's outputs so far; kept between looks at the stores that saw no
        new line (most of them, under a scheduler), rebuilt only after one."""
        if self._transcripts is None:
            self._transcripts = self._build_transcripts()
        return self._transcripts

    def _build_transcripts(self) -> History:
        transcripts = tuple(
            Transcript(s.child, s.label, tuple(self.lines.get(s.child, ())),
                       self.returncodes.get(s.child))
            for s in self.specs
        )
        spans = {child: replace(span, stderr=tuple(self.stderr.get(child, ())))
                 for child, span in self.spans.items()}
        return History(transcripts, spans, self.start, self.kind)
