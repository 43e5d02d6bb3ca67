"""Scenarios: what to run, how often, and what must hold — loaded from TOML.

A scenario is validated completely before anything starts: a typo must not
cost a 50-iteration run. Every error names the file, the key and what was
expected, so `ScenarioError`'s message is all a person needs. The keys, their
defaults and what an error says each expects are declared in scenario_keys.py
(the README's key reference is written from there); this module reads them.
Templates take the placeholders scenario_keys.PLACEHOLDERS lists and one per
service (its URL); other braces are literal.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import explorer
from explorer.classify import Transient
from explorer.confine import inside
from explorer.events import When
from explorer.intercept.groups import GROUPS
from explorer.invariants import BUILTIN, Check, Invariant
from explorer.outcomes import (
    CHILDREN_SUCCEED,
    Evidence,
    ExpectedFailure,
    children_succeed_check,
    nothing,
    with_evidence,
)
from explorer.scenario_keys import (
    CHECKPOINTS,
    COMMAND,
    EVIDENCE,
    EXPECTED_FAILURE,
    INVARIANT,
    LAYOUT,
    MODEL,
    PLACEHOLDERS,
    SERVICE,
    TOP,
    TRANSIENT,
    Key,
    Table,
)
from explorer.scheduling.factory import CHECKPOINT_MODES
from explorer.serial import SERIALIZABLE, ModelError, load_model, serializable_check
from explorer.snapshot import Layout

__all__ = ["Command", "Scenario", "ScenarioError", "Service", "Transient", "load_scenario"]

DEFAULT_SCENARIO = Path(explorer.__file__).with_name("default_scenario.toml")
WHENS: tuple[When, ...] = ("always", "quiescent", "final")


class ScenarioError(Exception):
    """A scenario that cannot run; the message names file, key and expectation."""


@dataclass(frozen=True)
class Command:
    """One child to run: a label for people and an argv of templates."""

    label: str
    argv: tuple[str, ...]
    timeout: float | None = None  # None: the scenario's timeout


@dataclass(frozen=True)
class Service:
    """A process started before the setup, whose first stdout line is its URL."""

    name: str  # also the placeholder that expands to the URL
    argv: tuple[str, ...]
    env: dict[str, str]
    url_env: str | None  # children get the URL in this variable
    start_timeout: float


@dataclass(frozen=True)
class Checkpoints:
    """The `[checkpoints]` table: where controlled scheduling's checkpoints come from."""

    mode: str = CHECKPOINTS["mode"].default
    roots: tuple[str, ...] = CHECKPOINTS["roots"].default  # templates
    groups: tuple[str, ...] = CHECKPOINTS["groups"].default


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path | None
    description: str
    iterations: int
    concurrency: int  # children of an iteration allowed to run at once
    timeout: float  # per child, seconds
    fixtures: Path
    env: dict[str, str]
    services: tuple[Service, ...]
    setup: tuple[Command, ...]
    ops: tuple[Command, ...]
    reconcile: Command | None
    watch: tuple[str, ...]  # relative to the repo dir
    layout: Layout
    invariants: tuple[Invariant, ...]
    transients: tuple[Transient, ...] = field(default=())
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    uses: frozenset[str] = frozenset()  # the placeholders its templates name

    def placeholders(
        self, python: str, repo: Path, work: Path, *, profile: str | None = None,
        bugs: Sequence[str] = (),
    ) -> dict[str, str]:
        values = {"python": python, "repo": str(repo), "fixtures": str(self.fixtures),
                  "work": str(work), "profile": profile or "", "bugs": ",".join(bugs)}
        assert values.keys() == PLACEHOLDERS.keys()
        return values


# `{name}` is a placeholder; any other brace (a dict in `python -c` code) is literal.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m[1]], template)


def load_scenario(path: Path | None) -> Scenario:
    """Load and validate a scenario; None is the default (the seed's stress test)."""
    source = DEFAULT_SCENARIO if path is None else path
    label = "default scenario" if path is None else str(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScenarioError(f"{label}: no such file") from exc
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{label}: not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: not valid TOML ({exc})") from exc
    return _Parser(label, source.resolve().parent, plugins=path is not None).parse(data, path)


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


class _Parser:
    def __init__(self, label: str, base_dir: Path, plugins: bool) -> None:
        self.label = label
        self.base_dir = base_dir  # relative paths are relative to the file's dir
        self.plugins = plugins  # look for plugins beside the file (not beside the package)
        self.placeholders: set[str] = set(PLACEHOLDERS)
        self.used: set[str] = set()
        self.expected: tuple[ExpectedFailure, ...] = ()  # what children_succeed accepts
        self.evidence: tuple[Evidence, ...] = ()

    def fail(self, key: str, expected: str, value: Any = ...) -> ScenarioError:
        got = "" if value is ... else f", got {value!r:.60}"
        return ScenarioError(f"{self.label}: {key}: expected {expected}{got}")

    def table(self, value: Any, where: str, keys: Table | None = None) -> dict[str, Any]:
        """A TOML table; with `keys`, one whose keys are all among them."""
        if not isinstance(value, dict):
            raise self.fail(where, "a table", value)
        unknown = [name for name in value if keys is not None and name not in keys.names]
        if unknown and keys is not None:
            raise ScenarioError(f"{self.label}: {_at(where, unknown[0])}: unknown key "
                                f"(expected one of: {', '.join(sorted(keys.names))})")
        return value

    def tables(self, value: Any, where: str, keys: Table) -> list[tuple[str, dict[str, Any]]]:
        """A list of tables, each checked for unknown keys, as (where, table) pairs."""
        if not isinstance(value, list):
            raise self.fail(where, "a list of tables", value)
        return [(f"{where}[{i}]", self.table(item, f"{where}[{i}]", keys))
                for i, item in enumerate(value)]

    def value(self, table: Mapping[str, Any], key: Key, where: str, default: Any = None) -> Any:
        """The key's value, checked as its kind says; its default when absent."""
        if key.name not in table:
            return key.default if default is None else default
        value, at = table[key.name], _at(where, key.name)
        if key.kind in ("string", "path", "regex", "repo_path"):
            if not isinstance(value, str) or not value or not key.accepts(value):
                raise self.fail(at, key.expected, value)
            return value
        if key.kind == "text":
            if not isinstance(value, str):
                raise self.fail(at, key.expected, value)
            return value
        if key.kind in ("integer", "number"):
            ok = isinstance(value, int) if key.kind == "integer" else isinstance(value, int | float)
            if isinstance(value, bool) or not ok or not key.accepts(value):
                raise self.fail(at, key.expected, value)
            return value if key.kind == "integer" else float(value)
        if key.kind in ("argv", "args"):
            if not isinstance(value, list) or (key.kind == "argv" and not value):
                raise self.fail(at, key.expected, value)
            return tuple(self.template(item, f"{at}[{i}]") for i, item in enumerate(value))
        if key.kind == "env":
            return {name: self.template(v, f"{at}.{name}")
                    for name, v in self.table(value, at).items()}
        return value  # tables and lists: their own methods read them

    def template(self, text: Any, at: str) -> str:
        if not isinstance(text, str) or not text:
            raise self.fail(at, "a non-empty string", text)
        for name in PLACEHOLDER.findall(text):
            if name not in self.placeholders:
                known = ", ".join("{" + p + "}" for p in sorted(self.placeholders))
                raise self.fail(at, f"placeholders among {known}", text)
            self.used.add(name)
        return text

    def parse(self, data: Any, path: Path | None) -> Scenario:
        data = self.table(data, "", TOP)
        name = self.value(data, TOP["name"], "", path.stem if path else "default")
        fixtures = self.value(data, TOP["fixtures"], "", ".")
        services = self.services(self.value(data, TOP["services"], "", []))
        self.placeholders.update(service.name for service in services)
        prefix = self.value(data, TOP["command"], "")
        if "ops" not in data:
            raise self.fail("ops", TOP["ops"].expected)
        ops = self.commands(data["ops"], "ops", prefix, minimum=1)
        setup = self.commands(data.get("setup", []), "setup", prefix, minimum=0)
        reconcile = (self.command(data["reconcile"], "reconcile", prefix, "reconcile")
                     if "reconcile" in data else None)
        labels = {c.label for c in (*ops, *setup, *([reconcile] if reconcile else []))}
        self.expected = self.expected_failures(data.get("expected_failures", []), labels)
        self.evidence = self.evidence_patterns(data.get("evidence", []))
        invariants = with_evidence(
            self.invariants(self.value(data, TOP["invariants"], "", list(BUILTIN))),
            self.evidence)
        if "model" in data:
            invariants = (*invariants, self.model(data["model"], fixtures))
        return Scenario(
            name=name, path=path, ops=ops, services=services,
            description=self.value(data, TOP["description"], ""),
            iterations=self.value(data, TOP["iterations"], ""),
            concurrency=self.value(data, TOP["concurrency"], "", len(ops)),
            timeout=self.value(data, TOP["timeout"], ""),
            fixtures=self.fixtures(fixtures),
            env=self.value(data, TOP["env"], "", {}),
            setup=setup,
            reconcile=reconcile,
            watch=self.watch(self.value(data, TOP["watch"], "")),
            layout=self.layout(data.get("layout", {})),
            invariants=invariants,
            transients=self.transients(data.get("transients", []), {i.name for i in invariants}),
            checkpoints=self.checkpoints(data.get("checkpoints", {})),
            uses=frozenset(self.used),
        )

    def commands(
        self, value: Any, key: str, prefix: tuple[str, ...] | None, *, minimum: int
    ) -> tuple[Command, ...]:
        if not isinstance(value, list) or len(value) < minimum:
            expected = "a list of tables" + (f" (at least {minimum})" if minimum else "")
            raise self.fail(key, expected, value)
        return tuple(
            self.command(item, f"{key}[{i}]", prefix, f"{key} {i}")
            for i, item in enumerate(value)
        )

    def command(
        self, value: Any, where: str, prefix: tuple[str, ...] | None, default_label: str
    ) -> Command:
        table = self.table(value, where, COMMAND)
        if ("argv" in table) == ("args" in table):
            raise self.fail(where, "exactly one of `argv` (the whole command) or `args` "
                                   "(appended to the top-level `command`)")
        if "args" in table:
            if prefix is None:
                raise self.fail(f"{where}.args", "a top-level `command` to append to")
            argv = prefix + self.value(table, COMMAND["args"], where)
        else:
            argv = self.value(table, COMMAND["argv"], where)
        return Command(label=self.value(table, COMMAND["label"], where, default_label),
                       argv=argv, timeout=self.value(table, COMMAND["timeout"], where))

    def services(self, value: Any) -> tuple[Service, ...]:
        out: list[Service] = []
        for where, table in self.tables(value, "services", SERVICE):
            name = self.value(table, SERVICE["name"], where)
            if not isinstance(name, str) or not name.isidentifier() or name in PLACEHOLDERS:
                raise self.fail(f"{where}.name", "an identifier other than "
                                + ", ".join(PLACEHOLDERS), name)
            if "command" not in table:
                raise self.fail(f"{where}.command", SERVICE["command"].expected)
            out.append(Service(
                name=name, argv=self.value(table, SERVICE["command"], where),
                env=self.value(table, SERVICE["env"], where, {}),
                url_env=self.value(table, SERVICE["url_env"], where),
                start_timeout=self.value(table, SERVICE["start_timeout"], where),
            ))
        return tuple(out)

    def fixtures(self, value: str) -> Path:
        path = (self.base_dir / value).resolve()
        if not path.is_dir():
            raise self.fail("fixtures", f"{TOP['fixtures'].expected} ({path} is not one)", value)
        return path

    def watch(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or not value:
            raise self.fail("watch", TOP["watch"].expected, value)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not inside(item):
                raise self.fail(f"watch[{i}]", "a path inside the repo dir", item)
        return tuple(value)

    def checkpoints(self, value: Any) -> Checkpoints:
        table = self.table(value, "checkpoints", CHECKPOINTS)
        mode = self.value(table, CHECKPOINTS["mode"], "checkpoints")
        if mode not in CHECKPOINT_MODES:
            raise self.fail("checkpoints.mode", CHECKPOINTS["mode"].expected, mode)
        roots = self.value(table, CHECKPOINTS["roots"], "checkpoints")
        if not roots:
            raise self.fail("checkpoints.roots", CHECKPOINTS["roots"].expected, roots)
        groups = table.get("groups", CHECKPOINTS["groups"].default)
        if (not isinstance(groups, list | tuple) or not groups
                or not all(isinstance(g, str) and g in GROUPS for g in groups)):
            raise self.fail("checkpoints.groups", CHECKPOINTS["groups"].expected, groups)
        return Checkpoints(mode, roots, tuple(groups))

    def layout(self, value: Any) -> Layout:
        table = self.table(value, "layout", LAYOUT)
        return Layout(**{key.name: self.value(table, key, "layout") for key in LAYOUT})

    def invariants(self, value: Any) -> tuple[Invariant, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("invariants", TOP["invariants"].expected, value)
        out: list[Invariant] = []
        for i, item in enumerate(value):
            where = f"invariants[{i}]"
            if isinstance(item, str):
                out.append(self.invariant_by_name(item, where))
                continue
            table = self.table(item, where, INVARIANT)
            if "check" not in table:
                raise self.fail(f"{where}.check", INVARIANT["check"].expected)
            base = self.invariant_by_name(self.value(table, INVARIANT["check"], where),
                                          f"{where}.check")
            name = self.value(table, INVARIANT["name"], where, base.name)
            when = self.value(table, INVARIANT["when"], where, base.when)
            if when not in WHENS:
                raise self.fail(f"{where}.when", "one of " + ", ".join(WHENS), when)
            out.append(Invariant(name, cast(When, when), base.check))
        names = [inv.name for inv in out]
        for name in names:
            if names.count(name) > 1:
                raise self.fail("invariants", "distinct names", name)
        return tuple(out)

    def invariant_by_name(self, ref: str, key: str) -> Invariant:
        if ref in BUILTIN:
            return BUILTIN[ref]
        if ref == CHILDREN_SUCCEED:
            return Invariant(ref, "quiescent", children_succeed_check(self.expected))
        if ref in {item.invariant for item in self.evidence}:
            return Invariant(ref, "quiescent", nothing)  # with_evidence fills it
        if ":" not in ref:
            raise self.fail(key, "a built-in invariant (" + ", ".join([*BUILTIN, CHILDREN_SUCCEED])
                            + "), one an [[evidence]] table names or a `module:function` "
                            "plugin", ref)
        module_name, _, func_name = ref.partition(":")
        base = str(self.base_dir)  # plugins usually sit beside their scenario file
        if self.plugins and base not in sys.path:
            sys.path.insert(0, base)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise self.fail(key, f"an importable module:function plugin "
                                 f"(importing {module_name} failed: {exc})", ref) from exc
        func = getattr(module, func_name, None)
        if not callable(func):
            raise self.fail(key, f"a function {func_name} in module {module_name}", ref)
        when = getattr(func, "when", "quiescent")
        if when not in WHENS:
            raise self.fail(key, f"a plugin whose `when` attribute is one of {', '.join(WHENS)}",
                            when)
        return Invariant(func_name, when, cast(Check, func))

    def transients(self, value: Any, invariant_names: set[str]) -> tuple[Transient, ...]:
        out: list[Transient] = []
        for where, table in self.tables(value, "transients", TRANSIENT):
            if "pattern" not in table:
                raise self.fail(f"{where}.pattern", TRANSIENT["pattern"].expected)
            raw = self.value(table, TRANSIENT["pattern"], where)
            try:
                pattern = re.compile(raw)
            except re.error as exc:
                raise self.fail(f"{where}.pattern", f"a regular expression ({exc})", raw) from exc
            names: frozenset[str] | None = None
            if "invariants" in table:
                listed = table["invariants"]
                if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                    raise self.fail(f"{where}.invariants", TRANSIENT["invariants"].expected,
                                    listed)
                for j, name in enumerate(listed):
                    if name not in invariant_names:
                        raise self.fail(f"{where}.invariants[{j}]", "one of the scenario's "
                                        "invariants (" + ", ".join(sorted(invariant_names)) + ")",
                                        name)
                names = frozenset(listed)
            out.append(Transient(pattern, names))
        return tuple(out)

    def expected_failures(self, value: Any, labels: set[str]) -> tuple[ExpectedFailure, ...]:
        out: list[ExpectedFailure] = []
        for where, table in self.tables(value, "expected_failures", EXPECTED_FAILURE):
            pattern = self.regex(table, EXPECTED_FAILURE["pattern"], where)
            exits = table.get("exit")
            if exits is not None and (not isinstance(exits, list) or not all(
                    isinstance(e, int) and not isinstance(e, bool) for e in exits)):
                raise self.fail(f"{where}.exit", EXPECTED_FAILURE["exit"].expected, exits)
            ops = table.get("ops")
            if ops is not None:
                if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
                    raise self.fail(f"{where}.ops", EXPECTED_FAILURE["ops"].expected, ops)
                for j, label in enumerate(ops):
                    if label not in labels:
                        raise self.fail(f"{where}.ops[{j}]", "the label of one of the "
                                        "scenario's commands (" + ", ".join(sorted(labels))
                                        + ")", label)
            out.append(ExpectedFailure(pattern, None if exits is None else frozenset(exits),
                                       None if ops is None else frozenset(ops)))
        return tuple(out)

    def evidence_patterns(self, value: Any) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        for where, table in self.tables(value, "evidence", EVIDENCE):
            pattern = self.regex(table, EVIDENCE["pattern"], where)
            out.append(Evidence(pattern, self.value(table, EVIDENCE["invariant"], where),
                                self.value(table, EVIDENCE["means"], where)))
        return tuple(out)

    def regex(self, table: Mapping[str, Any], key: Key, where: str) -> re.Pattern[str]:
        if key.name not in table:
            raise self.fail(f"{where}.{key.name}", key.expected)
        raw = self.value(table, key, where)
        try:
            return re.compile(raw)
        except re.error as exc:
            raise self.fail(f"{where}.{key.name}", f"a regular expression ({exc})", raw) from exc

    def model(self, value: Any, fixtures: str) -> Invariant:
        table = self.table(value, "model", MODEL)
        if "plugin" not in table:
            raise self.fail("model.plugin", MODEL["plugin"].expected)
        name = self.value(table, MODEL["plugin"], "model")
        try:
            model = load_model(name, [self.base_dir, (self.base_dir / fixtures).resolve()])
        except ModelError as exc:
            raise self.fail("model.plugin", f"a usable model module ({exc})", name) from exc
        return Invariant(SERIALIZABLE, "quiescent", serializable_check(model))
