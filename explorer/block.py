"""What the runner knows about the block in progress, shared by the parts that watch it.

The runner writes the children's lines, exits, process groups and kills here;
the observer the stores' last snapshot and the live checks' results; the judge
reads all of it once the block's children are gone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from explorer.events import Break, ChildSpec
from explorer.invariants import Transcript
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
    _transcripts: list[Transcript] | None = None

    def add_line(self, child: int, text: str) -> None:
        self.lines[child].append(text)
        self._transcripts = None

    def exited(self, child: int, returncode: int | None) -> None:
        self.returncodes[child] = returncode
        self._transcripts = None

    def transcripts(self) -> list[Transcript]:
        """The children's outputs so far; kept between looks at the stores that saw no
        new line (most of them, under a scheduler), rebuilt only after one."""
        if self._transcripts is None:
            self._transcripts = self._build_transcripts()
        return self._transcripts

    def _build_transcripts(self) -> list[Transcript]:
        return [
            Transcript(s.child, s.label, tuple(self.lines.get(s.child, ())),
                       self.returncodes.get(s.child))
            for s in self.specs
        ]
