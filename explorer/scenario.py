"""Scenarios: what to run, how often, and what must hold — loaded from TOML.

A scenario is validated completely before anything starts: a typo must not
cost a 50-iteration run. Every error names the file, the key and what was
expected, so `ScenarioError`'s message is all a person needs. The keys, their
defaults and what an error says each expects are declared in scenario_keys.py
(the README's key reference is written from there), scenario_values.py reads and
checks each value; this module puts the scenario together.
Templates take the placeholders scenario_keys.PLACEHOLDERS lists and one per
service (its URL); other braces are literal.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import explorer
from explorer.archive import ArchivePolicy
from explorer.classify import Transient
from explorer.confine import inside
from explorer.intercept.groups import GROUPS
from explorer.invariants import Invariant
from explorer.scenario_checks import CheckReader
from explorer.scenario_keys import (
    ARCHIVE,
    CHECKPOINTS,
    COMMAND,
    PLACEHOLDERS,
    SERVICE,
    STORE,
    TOP,
    TRANSIENT,
)
from explorer.scenario_values import ENV_PREFIX, ScenarioError, ValueReader
from explorer.scheduling.factory import CHECKPOINT_MODES
from explorer.stores import STORE_KINDS, StoreKind, StoreSpec

__all__ = ["Command", "Scenario", "Service", "Transient", "load_scenario"]

DEFAULT_SCENARIO = Path(explorer.__file__).with_name("default_scenario.toml")


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
    release_points: tuple[str, ...] = CHECKPOINTS["release_points"].default  # name globs
    release_window: float = CHECKPOINTS["release_window"].default
    pct_steps: int | None = None  # None: the mode's first guess


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
    invariants: tuple[Invariant, ...]
    stores: tuple[StoreSpec, ...] = ()  # paths are templates until the run fills them in
    archive: ArchivePolicy = ArchivePolicy()
    transients: tuple[Transient, ...] = field(default=())
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    unset_env: tuple[str, ...] = ()  # inherited variables the children must not see
    inherit_env: bool | tuple[str, ...] = True  # a tuple: only these are inherited
    uses: frozenset[str] = frozenset()  # the placeholders its templates name

    def placeholders(
        self, python: str, repo: Path, work: Path, *, profile: str | None = None,
        bugs: Sequence[str] = (),
    ) -> dict[str, str]:
        values = {"python": python, "repo": str(repo), "fixtures": str(self.fixtures),
                  "work": str(work), "profile": profile or "", "bugs": ",".join(bugs)}
        assert values.keys() == PLACEHOLDERS.keys()
        for name in self.uses:
            if name.startswith(ENV_PREFIX):
                variable = name[len(ENV_PREFIX):]
                if variable not in os.environ:
                    raise ScenarioError(f"{self.path or 'default scenario'}: {{{name}}}: the "
                                        f"environment variable {variable} is not set")
                values[name] = os.environ[variable]
        return values


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


class _Parser(ValueReader):
    def __init__(self, label: str, base_dir: Path, plugins: bool) -> None:
        super().__init__(label)
        self.base_dir = base_dir  # relative paths are relative to the file's dir
        self.plugins = plugins  # look for plugins beside the file (not beside the package)
        self.fixtures_dir = base_dir

    def parse(self, data: Any, path: Path | None) -> Scenario:
        data = self.table(data, "", TOP)
        name = self.value(data, TOP["name"], "", path.stem if path else "default")
        fixtures = self.value(data, TOP["fixtures"], "", ".")
        services = self.services(self.value(data, TOP["services"], "", []))
        self.placeholders.update(service.name for service in services)
        self.fixtures_dir = self.fixtures(fixtures)
        prefix = self.value(data, TOP["command"], "")
        if "ops" not in data:
            raise self.fail("ops", TOP["ops"].expected)
        ops = self.commands(data["ops"], "ops", prefix, minimum=1)
        setup = self.commands(data.get("setup", []), "setup", prefix, minimum=0)
        reconcile = (self.command(data["reconcile"], "reconcile", prefix, "reconcile")
                     if "reconcile" in data else None)
        stores = self.stores(data.get("stores", {}))
        labels = {c.label for c in (*ops, *setup, *([reconcile] if reconcile else []))}
        invariants = CheckReader(self).read(data, stores, labels)
        env, unset = self.env(data.get("env", {}))
        return Scenario(
            name=name, path=path, ops=ops, services=services,
            description=self.value(data, TOP["description"], ""),
            iterations=self.value(data, TOP["iterations"], ""),
            concurrency=self.value(data, TOP["concurrency"], "", len(ops)),
            timeout=self.value(data, TOP["timeout"], ""),
            fixtures=self.fixtures_dir,
            env=env, unset_env=unset,
            inherit_env=self.value(data, TOP["inherit_env"], ""),
            setup=setup,
            reconcile=reconcile,
            watch=self.watch(self.value(data, TOP["watch"], "")),
            stores=stores,
            archive=self.archive(data.get("archive", {})),
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
        points = table.get("release_points", CHECKPOINTS["release_points"].default)
        if not isinstance(points, list | tuple) or not all(
                isinstance(p, str) and p and not any(c.isspace() for c in p) for p in points):
            raise self.fail("checkpoints.release_points",
                            CHECKPOINTS["release_points"].expected, points)
        window = self.value(table, CHECKPOINTS["release_window"], "checkpoints")
        steps = self.value(table, CHECKPOINTS["pct_steps"], "checkpoints")
        return Checkpoints(mode, roots, tuple(groups), tuple(points), window, steps)

    def env(self, value: Any) -> tuple[dict[str, str], tuple[str, ...]]:
        """`NAME = template`, `NAME = false` (unset) and `unset = [NAMES]`."""
        table = self.table(value, "env")
        env: dict[str, str] = {}
        unset: list[str] = []
        for name, v in table.items():
            if name == "unset" and isinstance(v, list):
                if not all(isinstance(n, str) and n for n in v):
                    raise self.fail("env.unset", "a list of variable names", v)
                unset.extend(v)
            elif v is False:
                unset.append(name)
            else:
                env[name] = self.template(v, f"env.{name}")
        return env, tuple(unset)

    def stores(self, value: Any) -> tuple[StoreSpec, ...]:
        out = []
        for name, item in self.table(value, "stores").items():
            where = f"stores.{name}"
            table = self.table(item, where, STORE)
            for required in ("kind", "path"):
                if required not in table:
                    raise self.fail(f"{where}.{required}", STORE[required].expected)
            kind = self.value(table, STORE["kind"], where)
            if kind not in STORE_KINDS:
                raise self.fail(f"{where}.kind", STORE["kind"].expected, kind)
            path = self.template(self.value(table, STORE["path"], where), f"{where}.path")
            query = self.value(table, STORE["query"], where)
            if query is not None and kind != "sqlite":
                raise self.fail(f"{where}.query", "no query: only a sqlite store takes one")
            out.append(StoreSpec(name, cast(StoreKind, kind), path.rstrip("/") or ".", query))
        return tuple(out)

    def archive(self, value: Any) -> ArchivePolicy:
        table = self.table(value, "archive", ARCHIVE)
        return ArchivePolicy(include=self.value(table, ARCHIVE["include"], "archive", ()),
                             exclude=self.value(table, ARCHIVE["exclude"], "archive"))

    def transients(self, value: Any, invariant_names: set[str]) -> tuple[Transient, ...]:
        out: list[Transient] = []
        for where, table in self.tables(value, "transients", TRANSIENT):
            pattern = self.regex(table, TRANSIENT["pattern"], where)
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
