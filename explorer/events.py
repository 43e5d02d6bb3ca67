"""The event stream: every fact the core runner reports, as typed records.

This module is the seam of the project. The runner produces these events; the
headless reporter, the trace recorder, the Textual app and replay consume them.
Nothing a face shows may come from anywhere else, so every field a face needs
lives here. Events are immutable and serialise to one flat JSON object each.

Iteration numbers: 0 is the setup block, 1..N the concurrent iterations, and
the final reconcile is one more block numbered N+1 (`IterationStarted.kind`
tells them apart).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from explorer.vocabulary import outcome

Stream = Literal["stdout", "stderr"]
When = Literal["always", "quiescent", "final"]
Phase = Literal["start", "live", "quiescent", "final"]
Classification = Literal["tolerated", "healed", "persistent"]
BlockKind = Literal["setup", "iteration", "reconcile"]
Verdict = Literal["clean", "tolerated", "failed"]
ChangeKind = Literal["added", "modified", "deleted"]
KillReason = Literal["timeout", "fault", "interrupt"]
ScheduleAction = Literal["run", "kill", "blocked", "delay"]

CLASSIFICATIONS: tuple[Classification, ...] = get_args(Classification)
FAILING_CLASSES: tuple[Classification, ...] = ("healed", "persistent")


@dataclass(frozen=True)
class Break:
    """One violation of one invariant, in words a person can act on."""

    invariant: str
    message: str
    extension: str | None = None  # the entity it concerns: an extension, a package, a ref
    classification: Classification | None = None  # None until the iteration is quiescent
    # Set when the break was already there when the block started: the iteration where this
    # one incident was first seen. It keeps its first class and is counted once.
    first_seen: int | None = None

    @property
    def is_failure(self) -> bool:
        return self.classification in FAILING_CLASSES

    @classmethod
    def of(cls, message: str, entity: str | None = None) -> Break:
        """A break as a check returns it: the invariant's name is filled in when it runs."""
        return cls("", message, entity)

    @property
    def carried(self) -> bool:
        return self.first_seen is not None


@dataclass(frozen=True)
class ChildSpec:
    """One concurrent child of an iteration: its slot, op label and expanded argv."""

    child: int
    label: str
    argv: list[str]


@dataclass(frozen=True)
class InvariantSpec:
    name: str
    when: When


@dataclass(frozen=True)
class CatalogRow:
    name: str
    version: str
    kind: str
    type: str
    bundle_path: str
    state: str  # "Indexed" or "Tombstoned"


Cell = str | int | float | None  # one SQLite value as the trace keeps it (blobs as hex)


@dataclass(frozen=True)
class StoreTable:
    """Rows a SQLite store's query (or one of its tables) returned."""

    name: str
    columns: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class StoreItem:
    """One file a store's path matched, as it read: text for json and text stores, tables
    for SQLite, the files and links under it for a tree."""

    path: str  # relative to the repo dir
    text: str | None = None
    tables: list[StoreTable] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreItem:
        tables = [StoreTable(**t) for t in data.get("tables", [])]
        return cls(**{**data, "tables": tables})


@dataclass(frozen=True)
class StoreState:
    """A declared store, by its name in the scenario: every item its path matched."""

    name: str
    kind: str  # json, text, sqlite or tree
    items: list[StoreItem] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreState:
        return cls(**{**data, "items": [StoreItem.from_dict(i) for i in data.get("items", [])]})


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float  # monotonic seconds since the run started

    def to_dict(self) -> dict[str, Any]:
        # What dataclasses.asdict gives, without its deep copy of every plain value: a
        # child printing 100,000 lines makes 100,000 of these, each one on the trace.
        out: dict[str, Any] = {"kind": self.kind}
        for name in field_names(type(self)):
            out[name] = _plain(getattr(self, name))
        return out

    def to_json(self) -> str:
        # Encoded once: the trace and the app's pipe both write every event.
        try:
            return self.__dict__["_json"]  # type: ignore[no-any-return]
        except KeyError:
            text = self.__dict__["_json"] = _ENCODER.encode(self.to_dict())
            return text


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type[Event]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one, not one a call
_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    scenario: str
    scenario_path: str | None
    seed: int
    iterations: int
    ops: list[ChildSpec]
    invariants: list[InvariantSpec]
    repo_dir: str
    watched: list[str]
    profile: str | None = None
    bugs: list[str] = field(default_factory=list)
    strategy: str = "os"
    checkpoints: str = "hook"  # where the checkpoints came from: hook or syscalls


@dataclass(frozen=True, kw_only=True)
class IterationStarted(Event):
    kind: ClassVar[str] = "iteration_started"
    iteration: int
    block: BlockKind = "iteration"
    children: list[ChildSpec] = field(default_factory=list)
    archive_bytes: int | None = None  # the size of its start state's archive in the trace


def block_name(kind: BlockKind, iteration: int, number: str | None = None) -> str:
    """How the faces name a block: setup, final reconcile, or iteration N, where N is
    `number` when given (a count like 3/50, a padded 003)."""
    if kind == "setup":
        return "setup"
    if kind == "reconcile":
        return "final reconcile"
    return f"iteration {iteration if number is None else number}"


@dataclass(frozen=True, kw_only=True)
class ChildStarted(Event):
    kind: ClassVar[str] = "child_started"
    iteration: int
    child: int
    label: str
    argv: list[str]
    pid: int


@dataclass(frozen=True, kw_only=True)
class ChildOutput(Event):
    kind: ClassVar[str] = "child_output"
    iteration: int
    child: int
    stream: Stream
    line: str


@dataclass(frozen=True, kw_only=True)
class ChildExited(Event):
    kind: ClassVar[str] = "child_exited"
    iteration: int
    child: int
    returncode: int | None
    killed: KillReason | None = None
    leftovers: int = 0  # processes of its group still running when it exited, killed then

    @property
    def outcome(self) -> str:
        """How the child ended, in the words every face uses."""
        return outcome(self.returncode, self.killed, leftovers=self.leftovers)


@dataclass(frozen=True, kw_only=True)
class FileChanged(Event):
    kind: ClassVar[str] = "file_changed"
    iteration: int
    changes: list[tuple[ChangeKind, str]]  # (change, path relative to the repo dir)


@dataclass(frozen=True, kw_only=True)
class StateSnapshot(Event):
    kind: ClassVar[str] = "state_snapshot"
    iteration: int
    phase: Phase
    stores: list[StoreState] = field(default_factory=list)  # as the scenario declares them
    archive: str | None = None  # base64 tar.gz of the repo dir, at phase "start" only
    # Traces recorded before stores were declared carry the reference CLI's three stores
    # here; `legacy_stores` reads them as stores named lockfile, catalog and tree.
    lockfile: str | None = None
    catalog: list[CatalogRow] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def all_stores(self) -> list[StoreState]:
        return self.stores or legacy_stores(self)


def legacy_stores(event: StateSnapshot) -> list[StoreState]:
    if event.lockfile is None and not event.catalog and not event.files:
        return []
    columns = ["name", "version", "kind", "type", "bundle_path", "state"]
    rows: list[list[Cell]] = [[getattr(r, c) for c in columns] for r in event.catalog]
    return [
        StoreState("lockfile", "json", [StoreItem("lockfile", text=event.lockfile)]
                   if event.lockfile is not None else []),
        StoreState("catalog", "sqlite", [StoreItem("catalog", tables=[
            StoreTable("catalog", columns, rows)])]),
        StoreState("tree", "tree", [StoreItem("tree", files=list(event.files))]),
    ]


@dataclass(frozen=True, kw_only=True)
class InvariantChecked(Event):
    kind: ClassVar[str] = "invariant_checked"
    iteration: int
    invariant: str
    when: When
    phase: Phase
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks


@dataclass(frozen=True, kw_only=True)
class CheckpointReached(Event):
    kind: ClassVar[str] = "checkpoint_reached"
    iteration: int
    child: int  # the child whose process (any thread, any subprocess) made the call
    name: str  # syscalls mode: `<call>:<path relative to its root>`
    thread: int | None = None  # syscalls mode: the calling thread's id
    path: str | None = None  # syscalls mode: the absolute path the name is made from


@dataclass(frozen=True, kw_only=True)
class ScheduleDecision(Event):
    kind: ClassVar[str] = "schedule_decision"
    iteration: int
    step: int
    parked: list[tuple[int, str]]  # (child, checkpoint) of every child waiting for a turn
    chosen: int  # the child run, killed, held (delay), or declared blocked
    action: ScheduleAction
    delay: float = 0.0  # "delay": seconds the child is held, parked, while the others run


@dataclass(frozen=True, kw_only=True)
class IterationFinished(Event):
    kind: ClassVar[str] = "iteration_finished"
    iteration: int
    duration: float
    verdict: Verdict
    breaks: list[Break]  # classified, one per distinct violation in the block


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    iterations: int  # concurrent iterations actually run
    counts: dict[str, int]  # per classification
    exit_code: int
    interrupted: bool = False
    error: str | None = None  # why the run could not start (exit 2), in one line
    notes: list[str] = field(default_factory=list)  # about the run itself, for the summary


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        IterationStarted,
        ChildStarted,
        ChildOutput,
        ChildExited,
        FileChanged,
        StateSnapshot,
        InvariantChecked,
        CheckpointReached,
        ScheduleDecision,
        IterationFinished,
        RunFinished,
    )
}
