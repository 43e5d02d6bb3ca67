"""The built-in invariants a scenario may name, each with the options it takes: one place.

A scenario names one (`"lockfile_parses"`) or gives options
(`{check = "catalog_matches_lockfile", with = {catalog = "index"}}`); an option of
kind `store` names one of the scenario's stores (of the kind given). An option of
kind `scenario` is not given in `with`: it is what the scenario declares in a table
of its own (`[[expected_failures]]`, `[model]`). A new built-in is one `Builtin`
line in `BUILTIN`. Output lines that prove a break are not built-ins but the
scenario's `[[evidence]]`, joined to the invariant they name (outcomes.with_evidence).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from explorer.events import When
from explorer.invariants import (
    Check,
    Finding,
    Invariant,
    catalog_matches_lockfile,
    lockfile_parses,
    no_duplicate_type_error,
    tree_matches_lockfile,
)
from explorer.outcomes import CHILDREN_SUCCEED, children_succeed
from explorer.serial import SERIALIZABLE, serializable

OptionKind = Literal["store", "string", "scenario"]


@dataclass(frozen=True)
class Option:
    kind: OptionKind
    default: Any = None  # None: the scenario must give it; for `scenario`, the table's name
    store_kind: str | None = None  # for a store: json, text, sqlite or tree
    choices: tuple[str, ...] = ()  # for a string: the values it may take


@dataclass(frozen=True)
class Builtin:
    name: str
    when: When
    check: Callable[..., Iterable[Finding]]
    options: Mapping[str, Option] = field(default_factory=dict)

    @property
    def meaning(self) -> str:
        return " ".join((self.check.__doc__ or "").split())

    def bind(self, name: str, when: When, values: Mapping[str, Any]) -> Invariant:
        check: Check = partial(self.check, **values) if values else self.check
        return Invariant(name, when, check)


LOCKFILE = Option("store", "lockfile", "json")
CATALOG = Option("store", "catalog", "sqlite")
TREE = Option("store", "tree", "tree")

BUILTIN: dict[str, Builtin] = {b.name: b for b in (
    Builtin("lockfile_parses", "always", lockfile_parses, {
        "lockfile": LOCKFILE, "version": Option("string", "version"),
        "files": Option("string", "files")}),
    Builtin("catalog_matches_lockfile", "quiescent", catalog_matches_lockfile, {
        "lockfile": LOCKFILE, "catalog": CATALOG, "live_state": Option("string", "Indexed"),
        "version": Option("string", "version")}),
    Builtin("tree_matches_lockfile", "quiescent", tree_matches_lockfile, {
        "lockfile": LOCKFILE, "tree": TREE,
        "files_relative_to": Option("string", "tree", choices=("tree", "repo")),
        "version": Option("string", "version"), "files": Option("string", "files")}),
    Builtin("no_duplicate_type_error", "quiescent", no_duplicate_type_error, {
        "catalog": CATALOG, "live_state": Option("string", "Indexed")}),
    Builtin(CHILDREN_SUCCEED, "quiescent", children_succeed, {
        "expected": Option("scenario", "expected_failures")}),
    Builtin(SERIALIZABLE, "quiescent", serializable, {"model": Option("scenario", "model")}),
)}
