"""Scenarios: what to run, how often, and what must hold — loaded from TOML.

A scenario is validated completely before anything starts: a typo must not
cost a 50-iteration run. Every error names the file, the key and what was
expected, so `ScenarioError`'s message is all a person needs.

Keys (see default_scenario.toml for a whole one):
  name, description, iterations (50), concurrency (all ops), timeout (30 s a child),
  fixtures (dir; default: the checkout's fixtures/), command (argv prefix for `args`),
  env {NAME = template}, watch [paths in the repo dir], invariants [names,
  "module:function", or {check, name, when}], layout {lockfile, catalog, tree};
  [[services]] name, builtin = "lifecycle-registry" | command = [...], env, url_env;
  [[setup]] / [[ops]] / [reconcile]: label, argv = [...] | args = [...], timeout;
  [[transients]] pattern (group `extension`), invariants [names it tolerates].
Templates take {python} (sys.executable), {repo}, {fixtures}, {work} and one
placeholder per service (its URL); other braces are literal.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import explorer
from explorer.events import When
from explorer.invariants import BUILTIN, Check, Invariant
from explorer.snapshot import Layout

DEFAULT_SCENARIO = Path(explorer.__file__).with_name("default_scenario.toml")
# A repo checkout keeps the reference system beside the package.
DEFAULT_FIXTURES = Path(explorer.__file__).resolve().parents[1] / "fixtures"

BASE_PLACEHOLDERS = ("python", "repo", "fixtures", "work")
WHENS: tuple[When, ...] = ("always", "quiescent", "final")

# The fixture registry: prints its URL on its first stdout line, runs until killed.
BUILTIN_SERVICES: dict[str, tuple[list[str], dict[str, str]]] = {
    "lifecycle-registry": (
        ["{python}", "-m", "lifecycle.registry"],
        {"PYTHONPATH": "{fixtures}"},
    ),
}


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
    start_timeout: float = 20.0


@dataclass(frozen=True)
class Transient:
    """An output line that documents a tolerated, temporary inconsistency."""

    pattern: re.Pattern[str]  # group `extension` (optional) names what it concerns
    invariants: frozenset[str] | None  # None: every invariant

    def tolerates(self, invariant: str) -> bool:
        return self.invariants is None or invariant in self.invariants


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

    def placeholders(self, python: str, repo: Path, work: Path) -> dict[str, str]:
        return {"python": python, "repo": str(repo), "fixtures": str(self.fixtures),
                "work": str(work)}


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
    return _Parser(label, path).parse(data)


_TOP_KEYS = {
    "name", "description", "iterations", "concurrency", "timeout", "fixtures", "command", "env",
    "services", "setup", "ops", "reconcile", "watch", "layout", "invariants", "transients",
}
_COMMAND_KEYS = {"label", "argv", "args", "timeout"}
_SERVICE_KEYS = {"name", "builtin", "command", "env", "url_env", "start_timeout"}
_TRANSIENT_KEYS = {"pattern", "invariants"}
_INVARIANT_KEYS = {"name", "check", "when"}
_LAYOUT_KEYS = {"lockfile", "catalog", "tree"}


class _Parser:
    def __init__(self, label: str, path: Path | None) -> None:
        self.label = label
        self.path = path
        self.placeholders: set[str] = set(BASE_PLACEHOLDERS)

    def fail(self, key: str, expected: str, value: Any = ...) -> ScenarioError:
        got = "" if value is ... else f", got {value!r:.60}"
        return ScenarioError(f"{self.label}: {key}: expected {expected}{got}")

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise ScenarioError(
                    f"{self.label}: {name}: unknown key (expected one of: "
                    f"{', '.join(sorted(allowed))})"
                )

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, "a non-empty string", value)
        return value

    def number(self, value: Any, key: str, *, integer: bool, minimum: float) -> float:
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or value < minimum:
            kind = "an integer" if integer else "a number"
            raise self.fail(key, f"{kind} >= {minimum:g}", value)
        return value

    def template(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        for name in PLACEHOLDER.findall(text):
            if name not in self.placeholders:
                known = ", ".join("{" + p + "}" for p in sorted(self.placeholders))
                raise self.fail(key, f"placeholders among {known}", value)
        return text

    def argv(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "a non-empty list of strings", value)
        return tuple(self.template(item, f"{key}[{i}]") for i, item in enumerate(value))

    def parse(self, data: dict[str, Any]) -> Scenario:
        self.check_keys(data, _TOP_KEYS, "")
        name = self.string(data.get("name", self.path.stem if self.path else "default"), "name")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", "a string", description)
        iterations = int(self.number(data.get("iterations", 50), "iterations",
                                     integer=True, minimum=0))
        timeout = float(self.number(data.get("timeout", 30.0), "timeout",
                                    integer=False, minimum=0.001))
        fixtures = self.fixtures(data.get("fixtures"))

        services = self.services(data.get("services", []))
        self.placeholders.update(service.name for service in services)
        env = self.env(data.get("env", {}), "env")
        command = self.argv(data["command"], "command") if "command" in data else None

        if "ops" not in data:
            raise self.fail("ops", "at least one [[ops]] table (the concurrent children)")
        ops = self.commands(data["ops"], "ops", command, minimum=1)
        setup = self.commands(data.get("setup", []), "setup", command, minimum=0)
        reconcile = None
        if "reconcile" in data:
            reconcile = self.command(data["reconcile"], "reconcile", command, "reconcile")
        concurrency = int(self.number(data.get("concurrency", len(ops)), "concurrency",
                                      integer=True, minimum=1))

        watch = self.watch(data.get("watch", ["."]))
        layout = self.layout(data.get("layout", {}))
        invariants = self.invariants(data.get("invariants", list(BUILTIN)))
        transients = self.transients(data.get("transients", []), {i.name for i in invariants})
        return Scenario(
            name=name, path=self.path, description=description, iterations=iterations,
            concurrency=concurrency, timeout=timeout, fixtures=fixtures, env=env,
            services=services, setup=setup, ops=ops, reconcile=reconcile, watch=watch,
            layout=layout, invariants=invariants, transients=transients,
        )

    def base_dir(self) -> Path:
        return self.path.resolve().parent if self.path else Path.cwd()

    def fixtures(self, value: Any) -> Path:
        if value is None:
            return DEFAULT_FIXTURES
        return (self.base_dir() / self.string(value, "fixtures")).resolve()

    def env(self, value: Any, key: str) -> dict[str, str]:
        table = self.table(value, key)
        return {name: self.template(v, f"{key}.{name}") for name, v in table.items()}

    def commands(
        self, value: Any, key: str, command: tuple[str, ...] | None, *, minimum: int
    ) -> tuple[Command, ...]:
        if not isinstance(value, list) or len(value) < minimum:
            expected = "a list of tables" + (f" (at least {minimum})" if minimum else "")
            raise self.fail(key, expected, value)
        return tuple(
            self.command(item, f"{key}[{i}]", command, f"{key} {i}")
            for i, item in enumerate(value)
        )

    def command(
        self, value: Any, key: str, command: tuple[str, ...] | None, default_label: str
    ) -> Command:
        table = self.table(value, key)
        self.check_keys(table, _COMMAND_KEYS, key)
        if ("argv" in table) == ("args" in table):
            raise self.fail(key, "exactly one of `argv` (the whole command) or `args` "
                                 "(appended to the top-level `command`)")
        if "args" in table:
            if command is None:
                raise self.fail(f"{key}.args", "a top-level `command` to append to")
            args = table["args"]
            if not isinstance(args, list):
                raise self.fail(f"{key}.args", "a list of strings", args)
            argv = command + tuple(
                self.template(item, f"{key}.args[{i}]") for i, item in enumerate(args)
            )
        else:
            argv = self.argv(table["argv"], f"{key}.argv")
        label = self.string(table.get("label", default_label), f"{key}.label")
        timeout = None
        if "timeout" in table:
            timeout = float(self.number(table["timeout"], f"{key}.timeout",
                                        integer=False, minimum=0.001))
        return Command(label=label, argv=argv, timeout=timeout)

    def tables(self, value: Any, key: str, allowed: set[str]) -> list[tuple[str, dict[str, Any]]]:
        """A list of tables, each checked for unknown keys, as (its key, the table) pairs."""
        if not isinstance(value, list):
            raise self.fail(key, "a list of tables", value)
        out = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            table = self.table(item, where)
            self.check_keys(table, allowed, where)
            out.append((where, table))
        return out

    def services(self, value: Any) -> tuple[Service, ...]:
        out: list[Service] = []
        for key, table in self.tables(value, "services", _SERVICE_KEYS):
            name = self.string(table.get("name"), f"{key}.name")
            if not name.isidentifier() or name in BASE_PLACEHOLDERS:
                raise self.fail(f"{key}.name", "an identifier other than "
                                + ", ".join(BASE_PLACEHOLDERS), name)
            if ("builtin" in table) == ("command" in table):
                raise self.fail(key, "exactly one of `builtin` or `command`")
            env = self.env(table.get("env", {}), f"{key}.env")
            if "builtin" in table:
                builtin = table["builtin"]
                if builtin not in BUILTIN_SERVICES:
                    raise self.fail(f"{key}.builtin", "one of " + ", ".join(BUILTIN_SERVICES),
                                    builtin)
                argv_list, builtin_env = BUILTIN_SERVICES[builtin]
                argv = tuple(argv_list)
                env = {**builtin_env, **env}
            else:
                argv = self.argv(table["command"], f"{key}.command")
            url_env = table.get("url_env")
            if url_env is not None:
                url_env = self.string(url_env, f"{key}.url_env")
            start_timeout = float(self.number(table.get("start_timeout", 20.0),
                                              f"{key}.start_timeout", integer=False,
                                              minimum=0.001))
            out.append(Service(name, argv, env, url_env, start_timeout))
        return tuple(out)

    def watch(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("watch", "a non-empty list of paths relative to the repo dir", value)
        paths = tuple(self.string(item, f"watch[{i}]") for i, item in enumerate(value))
        for i, item in enumerate(paths):
            if Path(item).is_absolute() or ".." in Path(item).parts:
                raise self.fail(f"watch[{i}]", "a path inside the repo dir", item)
        return paths

    def layout(self, value: Any) -> Layout:
        table = self.table(value, "layout")
        self.check_keys(table, _LAYOUT_KEYS, "layout")
        fields = {k: self.string(v, f"layout.{k}") for k, v in table.items()}
        return Layout(**fields)

    def invariants(self, value: Any) -> tuple[Invariant, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("invariants", "a non-empty list of names, `module:function` "
                                          "strings or tables", value)
        out: list[Invariant] = []
        for i, item in enumerate(value):
            key = f"invariants[{i}]"
            if isinstance(item, str):
                out.append(self.invariant_by_name(item, key))
                continue
            table = self.table(item, key)
            self.check_keys(table, _INVARIANT_KEYS, key)
            check_ref = self.string(table.get("check"), f"{key}.check")
            base = self.invariant_by_name(check_ref, f"{key}.check")
            name = self.string(table.get("name", base.name), f"{key}.name")
            when = table.get("when", base.when)
            if when not in WHENS:
                raise self.fail(f"{key}.when", "one of " + ", ".join(WHENS), when)
            out.append(Invariant(name, cast(When, when), base.check))
        names = [inv.name for inv in out]
        for name in names:
            if names.count(name) > 1:
                raise self.fail("invariants", "distinct names", name)
        return tuple(out)

    def invariant_by_name(self, ref: str, key: str) -> Invariant:
        if ref in BUILTIN:
            return BUILTIN[ref]
        if ":" not in ref:
            raise self.fail(key, "a built-in invariant (" + ", ".join(BUILTIN)
                            + ") or a `module:function` plugin", ref)
        module_name, _, func_name = ref.partition(":")
        if self.path is not None:
            # Plugins usually sit beside their scenario file.
            base = str(self.base_dir())
            if base not in sys.path:
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
        for key, table in self.tables(value, "transients", _TRANSIENT_KEYS):
            raw = self.string(table.get("pattern"), f"{key}.pattern")
            try:
                pattern = re.compile(raw)
            except re.error as exc:
                raise self.fail(f"{key}.pattern", f"a regular expression ({exc})", raw) from exc
            names: frozenset[str] | None = None
            if "invariants" in table:
                listed = table["invariants"]
                if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                    raise self.fail(f"{key}.invariants", "a list of invariant names", listed)
                for j, name in enumerate(listed):
                    if name not in invariant_names:
                        raise self.fail(f"{key}.invariants[{j}]", "one of the scenario's "
                                        "invariants (" + ", ".join(sorted(invariant_names)) + ")",
                                        name)
                names = frozenset(listed)
            out.append(Transient(pattern, names))
        return tuple(out)
