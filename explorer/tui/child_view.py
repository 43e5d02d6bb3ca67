"""One child as the screen shows it: its state and the tail of its output lines.

No Textual here (the view model folds into it; a pane draws from it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

PANE_LINE_CAP = 2000  # lines a pane keeps; the trace keeps everything

# A pane line is plain text whose first two characters say what it is, so the
# model keeps plain strings (cheap to append) and the pane colours the few it
# draws by prefix.
OUT, ERR, CHECKPOINT, EXIT, NOTE = "  ", "! ", "◆ ", "■ ", "· "

ChildStatus = Literal["waiting", "running", "exited", "killed"]


@dataclass
class ChildView:
    child: int
    label: str
    argv: list[str] = field(default_factory=list)
    pid: int | None = None
    status: ChildStatus = "waiting"
    returncode: int | None = None
    killed: str | None = None
    last_checkpoint: str | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=PANE_LINE_CAP))
    total_lines: int = 0  # ever appended, so a widget can tell how many it has not seen

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.total_lines += 1

    @property
    def heading(self) -> str:
        return f"#{self.child} {self.label}"

    @property
    def state(self) -> str:
        parts = [f"pid {self.pid}"] if self.pid is not None else []
        if self.status == "running":
            parts.append(f"at {self.last_checkpoint}" if self.last_checkpoint else "running")
        elif self.status == "exited":
            parts.append(f"exit {self.returncode}")
        elif self.status == "killed":
            parts.append(f"killed ({self.killed})")
        else:
            parts.append("waiting")
        return " · ".join(parts)
