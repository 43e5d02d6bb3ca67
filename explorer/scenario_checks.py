"""A scenario's `invariants`: built-ins with their options checked against the declared
stores, and `module:function` plugins imported from beside the file or its fixtures dir."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any, Protocol, cast

from explorer.events import When
from explorer.invariants import Check, Invariant, OutputPattern
from explorer.registry import BUILTIN, Option
from explorer.scenario_keys import INVARIANT, TOP, Key, Table
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


class CheckReader:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

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
        values = {}
        for option, value in options.items():
            if option not in builtin.options:
                raise self.reader.error(f"{where}.with.{option}: unknown option of {ref} "
                                        f"(expected one of: {', '.join(sorted(builtin.options))})")
            values[option] = self.option(builtin.options[option], value,
                                         f"{where}.with.{option}", stores)
        for option, spec in builtin.options.items():
            if option not in values:
                if spec.default is None:
                    raise self.reader.fail(f"{where}.with.{option}", f"a value: {ref} needs it")
                values[option] = self.option(spec, spec.default, f"{where}.with.{option}",
                                             stores, default=True)
        return builtin.bind(name or builtin.name, cast(When, when or builtin.when), values)

    def option(
        self, spec: Option, value: Any, at: str, stores: tuple[StoreSpec, ...],
        default: bool = False,
    ) -> Any:
        if spec.kind == "patterns":
            return self.patterns(value, at)
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

    def patterns(self, value: Any, at: str) -> tuple[OutputPattern, ...]:
        if not isinstance(value, list | tuple):
            raise self.reader.fail(
                at, "a list of regular expressions or {pattern, says} tables", value)
        out = []
        for i, item in enumerate(value):
            raw, says = (item, "printed") if isinstance(item, str) else (
                (item.get("pattern"), item.get("says", "printed"))
                if isinstance(item, dict) else (None, None))
            if not isinstance(raw, str) or not raw or not isinstance(says, str):
                raise self.reader.fail(
                    f"{at}[{i}]", "a regular expression or a {pattern, says} table", item)
            try:
                out.append(OutputPattern(re.compile(raw), says))
            except re.error as exc:
                raise self.reader.fail(f"{at}[{i}]", f"a regular expression ({exc})", raw) from exc
        return tuple(out)

    def invariant_by_name(self, ref: str, key: str) -> Invariant:
        if ":" not in ref:
            raise self.reader.fail(key, "a built-in invariant (" + ", ".join(BUILTIN)
                            + ") or a `module:function` plugin", ref)
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

