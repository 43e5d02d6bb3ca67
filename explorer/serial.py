"""Serial equivalence: is there an order of a block's ops that explains what each reported?

The Knossos/Elle idea for CLI operations. A scenario names a model: a module
with `observe(snapshot) -> state` (the observable state, hashable; None when
the stores cannot be read as one, which other invariants report) and
`apply(state, op) -> (state, Outcome)` or a list of such alternatives (an op
that may legitimately go more than one way). After a block, the serial orders
of its ops that respect real time (an op that exited before another started
comes first) are searched, depth first and pruned as soon as an op's reported
outcome differs from what the model expects, for one that reproduces every
op's exit and output and ends in the state the stores hold. None is a break,
reported with the closest order and where it diverges.

A block in which the explorer killed a child is not checked: a killed op may
have taken effect, in part or not at all, which no order can say.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from explorer.events import Break
from explorer.invariants import Transcript
from explorer.outcomes import History
from explorer.snapshot import Snapshot

SERIALIZABLE = "serializable"
MAX_STEPS = 200_000  # model applications per block; past it the block is not judged
SHOWN = 100  # characters of a reported line quoted in a message


@dataclass(frozen=True)
class Op:
    """One op as the model sees it: its label and its whole argv."""

    label: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What the model expects an op to report: its exit code (None: any), the lines it
    must print (regexes, each matching some line) and the lines it may print besides."""

    returncode: int | None = 0
    lines: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()

    def mismatch(self, returncode: int | None, lines: Sequence[str]) -> str | None:
        """Why a reported outcome is not this one, in words; None when it is."""
        if self.returncode is not None and returncode != self.returncode:
            return f"exited {returncode} where the model expects {self.returncode}"
        for wanted in self.lines:
            if not any(_rx(wanted).search(line) for line in lines):
                return f"did not report /{wanted}/"
        known = (*self.lines, *self.allowed)
        for line in lines:
            if not any(_rx(p).search(line) for p in known):
                return f"reported {line.strip()[:SHOWN]!r}, which the model does not expect"
        return None

    def __str__(self) -> str:
        code = "any exit" if self.returncode is None else f"exit {self.returncode}"
        said = "".join(f", /{p}/" for p in self.lines)
        return code + said


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Model:
    """A scenario's model, as loaded from its module."""

    name: str
    observe: Callable[[Snapshot], Hashable]
    apply: Callable[[Any, Op], Any]
    describe: Callable[[Any], str] = repr

    def alternatives(self, state: Any, op: Op) -> list[tuple[Any, Outcome]]:
        result = self.apply(state, op)
        return list(result) if isinstance(result, list) else [result]


class ModelError(Exception):
    """A model module that cannot be used; the message says why."""


def load_model(module_name: str, search: Sequence[Path]) -> Model:
    """Import a model module, looking in `search` (the scenario's dirs) first."""
    for path in reversed(search):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    try:
        module: ModuleType = importlib.import_module(module_name)
    except Exception as exc:
        raise ModelError(f"importing {module_name} failed: {exc}") from exc
    observe, apply = getattr(module, "observe", None), getattr(module, "apply", None)
    describe = getattr(module, "describe", repr)
    if not callable(observe) or not callable(apply):
        raise ModelError(f"module {module_name} has no function observe(snapshot) and "
                         "apply(state, op)")
    return Model(module_name, observe, apply, describe if callable(describe) else repr)


@dataclass(frozen=True)
class Done:
    """One finished op of the block: what it reported and when it ran."""

    op: Op
    returncode: int | None
    lines: tuple[str, ...]
    started: float
    ended: float


@dataclass
class _Closest:
    explained: int = -1
    order: tuple[int, ...] = ()
    why: str = ""
    left: Any = None  # the state the order leaves, when it explained every op


class _Search:
    def __init__(self, model: Model, ops: Sequence[Done], end: Hashable) -> None:
        self.model = model
        self.ops = ops
        self.end = end
        # before[j]: the ops that exited before op j started, which any order puts first
        self.before = [
            frozenset(i for i, other in enumerate(ops) if other.ended < op.started)
            for op in ops
        ]
        self.steps = 0
        self.failed: set[tuple[frozenset[int], Hashable]] = set()
        self.closest = _Closest()

    def run(self, start: Hashable) -> tuple[int, ...] | None:
        return self._from(start, ())

    def _from(self, state: Hashable, order: tuple[int, ...]) -> tuple[int, ...] | None:
        done = frozenset(order)
        if len(order) == len(self.ops):
            if state == self.end:
                return order
            self._near(len(order), order, "", state)
            return None
        if (done, state) in self.failed:
            return None
        for j, op in enumerate(self.ops):
            if j in done or not self.before[j] <= done:
                continue
            for after, outcome in self.model.alternatives(state, op.op):
                self.steps += 1
                if self.steps > MAX_STEPS:
                    raise _TooMany
                why = outcome.mismatch(op.returncode, op.lines)
                if why is not None:
                    self._near(len(order), (*order, j), f"{op.op.label} {why} (from "
                               f"{self.model.describe(state)}: {outcome})", None)
                    continue
                found = self._from(after, (*order, j))
                if found is not None:
                    return found
        self.failed.add((done, state))
        return None

    def _near(self, explained: int, order: tuple[int, ...], why: str, left: Any) -> None:
        if explained > self.closest.explained:
            self.closest = _Closest(explained, order, why, left)


class _TooMany(Exception):
    pass


def explain(
    model: Model, start: Hashable, ops: Sequence[Done], end: Hashable
) -> tuple[tuple[int, ...] | None, _Closest]:
    """An order of `ops` that explains them and ends in `end`, or None, with the closest."""
    search = _Search(model, ops, end)
    return search.run(start), search.closest


def _entity(left: Any, end: Any) -> str | None:
    """The first key two mapping states disagree on, if the states are mappings."""
    if isinstance(left, Mapping) and isinstance(end, Mapping):
        for key in sorted(set(left) | set(end), key=str):
            if left.get(key) != end.get(key):
                return str(key)
    return None


def serializable(
    snapshot: Snapshot, outputs: Sequence[Transcript], *, model: Model
) -> list[Break]:
    """Some serial order of the block's ops explains what each reported and the state the
    stores end in, by the scenario's model (`[model]`)."""
    if not isinstance(outputs, History) or outputs.start is None:
        return []  # the heal's reconcile on a copy, or a block not begun
    ops = []
    for out in outputs:
        span = outputs.span(out.child)
        if (span is None or span.killed or span.started is None or span.ended is None
                or out.returncode is None):
            return []  # still running, or killed by the explorer: nothing to judge
        ops.append(Done(Op(out.label, span.argv), out.returncode, out.lines,
                        span.started, span.ended))
    start, end = model.observe(outputs.start), model.observe(snapshot)
    if start is None or end is None:
        return []  # the model cannot read the stores: other invariants say why
    try:
        found, closest = explain(model, start, ops, end)
    except _TooMany:
        return []
    if found is not None:
        return []
    order = " → ".join(ops[i].op.label for i in closest.order)
    if closest.left is not None:
        why = (f"every op reports as the model expects in the order {order}, but it "
               f"leaves {model.describe(closest.left)} where the stores have "
               f"{model.describe(end)}")
        entity = _entity(closest.left, end)
    else:
        shown = f"{order}: " if len(closest.order) > 1 else ""
        why = f"the closest order explains {closest.explained} of {len(ops)}; {shown}" \
              f"{closest.why}"
        entity = None
    return [Break(SERIALIZABLE, f"no serial order of the {len(ops)} ops explains what "
                  f"each reported and the final state; {why}", extension=entity)]
