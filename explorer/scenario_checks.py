"""A scenario's checks: its `invariants` (built-ins with their options checked against
the declared stores, `module:function` plugins imported from beside the file or its
fixtures dir), the `[[expected_failures]]` children_succeed accepts, the `[[evidence]]`
joined to the invariants they name, and the `[model]` of `serializable`."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, cast

from explorer.events import When
from explorer.invariants import Check, Invariant
from explorer.outcomes import Evidence, ExpectedFailure, nothing, with_evidence
from explorer.registry import BUILTIN, Option
from explorer.scenario_keys import EVIDENCE, EXPECTED_FAILURE, INVARIANT, MODEL, TOP, Key, Table
from explorer.serial import SERIALIZABLE, Model, ModelError, load_model
from explorer.stores import StoreSpec

WHENS: tuple[When, ...] = ("always", "quiescent", "final")


class Reader(Protocol):
    """What the scenario parser offers: its file, its errors, its checked values."""

    base_dir: Path
    fixtures_dir: Path
    plugins: bool

    def error(self, message: str) -> Exception: ...
    def fail(self, key: str, expected: str, value: Any = ...) -> Exception: ...
    def table(self, value: Any, where: str, keys: Table | None = None) -> dict[str, Any]: ...
    def value(self, table: Any, key: Key, where: str, default: Any = None) -> Any: ...
    def tables(self, value: Any, where: str, keys: Table) -> list[tuple[str, dict[str, Any]]]: ...
    def regex(self, table: Mapping[str, Any], key: Key, where: str) -> re.Pattern[str]: ...


class CheckReader:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.evidence: tuple[Evidence, ...] = ()
        # What the built-ins' `scenario` options are filled with, by the table's name.
        self.declared: dict[str, Any] = {}

    def read(
        self, data: Mapping[str, Any], stores: tuple[StoreSpec, ...], labels: set[str]
    ) -> tuple[Invariant, ...]:
        """Every check of the scenario: its invariants joined by its evidence, and
        `serializable` when it has a model (unless it lists it)."""
        self.declared["expected_failures"] = self.expected_failures(
            data.get("expected_failures", []), labels)
        if "model" in data:
            self.declared["model"] = self.model(data["model"])
        self.evidence = self.evidence_patterns(data.get("evidence", []))
        invariants = with_evidence(self.invariants(data.get("invariants", []), stores),
                                   self.evidence)
        if "model" in self.declared and SERIALIZABLE not in {i.name for i in invariants}:
            invariants = (*invariants, self.invariant(SERIALIZABLE, "model", stores, {}, None,
                                                      None))
        return invariants

    def invariants(self, value: Any, stores: tuple[StoreSpec, ...]) -> tuple[Invariant, ...]:
        if not isinstance(value, list):
            raise self.reader.fail("invariants", TOP["invariants"].expected, value)
        out: list[Invariant] = []
        for i, item in enumerate(value):
            where = f"invariants[{i}]"
            if isinstance(item, str):
                out.append(self.invariant(item, where, stores, {}, None, None))
                continue
            table = self.reader.table(item, where, INVARIANT)
            if "check" not in table:
                raise self.reader.fail(f"{where}.check", INVARIANT["check"].expected)
            options = self.reader.table(table.get("with", {}), f"{where}.with")
            when = self.reader.value(table, INVARIANT["when"], where)
            if when is not None and when not in WHENS:
                raise self.reader.fail(f"{where}.when", "one of " + ", ".join(WHENS), when)
            out.append(self.invariant(
                self.reader.value(table, INVARIANT["check"], where), where, stores, options,
                self.reader.value(table, INVARIANT["name"], where), when))
        names = [inv.name for inv in out]
        for name in names:
            if names.count(name) > 1:
                raise self.reader.fail("invariants", "distinct names", name)
        return tuple(out)

    def invariant(
        self, ref: str, where: str, stores: tuple[StoreSpec, ...], options: dict[str, Any],
        name: str | None, when: str | None,
    ) -> Invariant:
        key = f"{where}.check" if options or name or when else where
        builtin = BUILTIN.get(ref)
        if builtin is None:
            if options:
                raise self.reader.fail(f"{where}.with", "no options: only a built-in takes them")
            base = self.invariant_by_name(ref, key)
            return Invariant(name or base.name, cast(When, when or base.when), base.check)
        settable = sorted(o for o, spec in builtin.options.items() if spec.kind != "scenario")
        values = {}
        for option, value in options.items():
            if option not in settable:
                raise self.reader.error(f"{where}.with.{option}: unknown option of {ref} "
                                        f"(expected one of: {', '.join(settable) or 'none'})")
            values[option] = self.option(builtin.options[option], value,
                                         f"{where}.with.{option}", stores)
        for option, spec in builtin.options.items():
            if spec.kind == "scenario":
                if spec.default not in self.declared:
                    raise self.reader.fail(key, f"a [{spec.default}] table: {ref} needs it",
                                           ref)
                values[option] = self.declared[spec.default]
            elif option not in values:
                if spec.default is None:
                    raise self.reader.fail(f"{where}.with.{option}", f"a value: {ref} needs it")
                values[option] = self.option(spec, spec.default, f"{where}.with.{option}",
                                             stores, default=True)
        return builtin.bind(name or builtin.name, cast(When, when or builtin.when), values)

    def option(
        self, spec: Option, value: Any, at: str, stores: tuple[StoreSpec, ...],
        default: bool = False,
    ) -> Any:
        if not isinstance(value, str) or (spec.choices and value not in spec.choices):
            expected = ("one of " + ", ".join(spec.choices)) if spec.choices else "a string"
            raise self.reader.fail(at, expected, value)
        if spec.kind == "store":
            store = next((s for s in stores if s.name == value), None)
            declared = ", ".join(f"{s.name} ({s.kind})" for s in stores) or "none"
            if store is None or store.kind != spec.store_kind:
                why = (f" (the default {value!r}: declare [stores.{value}] or name another)"
                       if default else "")
                raise self.reader.fail(at, f"the name of a {spec.store_kind} store among the "
                                f"scenario's [stores] ({declared}){why}", value)
        return value

    def invariant_by_name(self, ref: str, key: str) -> Invariant:
        if ref in {item.invariant for item in self.evidence}:
            return Invariant(ref, "quiescent", nothing)  # with_evidence fills it
        if ":" not in ref:
            raise self.reader.fail(key, "a built-in invariant (" + ", ".join(BUILTIN)
                                   + "), one an [[evidence]] table names or a "
                                   "`module:function` plugin", ref)
        module_name, _, func_name = ref.partition(":")
        # Plugins sit beside their scenario file or in its fixtures dir.
        for base in (str(self.reader.fixtures_dir), str(self.reader.base_dir)):
            if self.reader.plugins and base not in sys.path:
                sys.path.insert(0, base)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise self.reader.fail(key, f"an importable module:function plugin "
                                 f"(importing {module_name} failed: {exc})", ref) from exc
        func = getattr(module, func_name, None)
        if not callable(func):
            raise self.reader.fail(key, f"a function {func_name} in module {module_name}", ref)
        when = getattr(func, "when", "quiescent")
        if when not in WHENS:
            raise self.reader.fail(
                key, f"a plugin whose `when` attribute is one of {', '.join(WHENS)}", when)
        return Invariant(func_name, when, cast(Check, func))

    def expected_failures(self, value: Any, labels: set[str]) -> tuple[ExpectedFailure, ...]:
        out: list[ExpectedFailure] = []
        for where, table in self.reader.tables(value, "expected_failures", EXPECTED_FAILURE):
            pattern = self.reader.regex(table, EXPECTED_FAILURE["pattern"], where)
            exits = table.get("exit")
            if exits is not None and (not isinstance(exits, list) or not all(
                    isinstance(e, int) and not isinstance(e, bool) for e in exits)):
                raise self.reader.fail(f"{where}.exit", EXPECTED_FAILURE["exit"].expected, exits)
            ops = table.get("ops")
            if ops is not None:
                if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
                    raise self.reader.fail(f"{where}.ops", EXPECTED_FAILURE["ops"].expected, ops)
                for j, label in enumerate(ops):
                    if label not in labels:
                        raise self.reader.fail(f"{where}.ops[{j}]", "the label of one of the "
                                               "scenario's commands ("
                                               + ", ".join(sorted(labels)) + ")", label)
            out.append(ExpectedFailure(pattern, None if exits is None else frozenset(exits),
                                       None if ops is None else frozenset(ops)))
        return tuple(out)

    def evidence_patterns(self, value: Any) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        for where, table in self.reader.tables(value, "evidence", EVIDENCE):
            pattern = self.reader.regex(table, EVIDENCE["pattern"], where)
            out.append(Evidence(pattern, self.reader.value(table, EVIDENCE["invariant"], where),
                                self.reader.value(table, EVIDENCE["means"], where)))
        return tuple(out)

    def model(self, value: Any) -> Model:
        table = self.reader.table(value, "model", MODEL)
        if "plugin" not in table:
            raise self.reader.fail("model.plugin", MODEL["plugin"].expected)
        name = self.reader.value(table, MODEL["plugin"], "model")
        try:
            return load_model(name, [self.reader.base_dir, self.reader.fixtures_dir])
        except ModelError as exc:
            raise self.reader.fail("model.plugin", f"a usable model module ({exc})", name) from exc
