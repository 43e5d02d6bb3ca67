"""The values a scenario file holds, read and checked one by one: tables and their known
keys, each key's kind (scenario_keys.py declares them), regular expressions, and templates
with their placeholders. Every failure is a `ScenarioError` naming the file, the key and
what was expected."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from explorer.confine import inside
from explorer.scenario_keys import PLACEHOLDERS, Key, Table


class ScenarioError(Exception):
    """A scenario that cannot run; the message names file, key and expectation."""


# `{name}` is a placeholder, `{env:NAME}` an environment variable; any other brace (a dict
# in `python -c` code) is literal.
PLACEHOLDER = re.compile(r"\{((?:env:)?[A-Za-z_][A-Za-z0-9_]*)\}")
ENV_PREFIX = "env:"


def expand(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m[1]], template)


def key_path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


class ValueReader:
    def __init__(self, label: str) -> None:
        self.label = label
        self.placeholders: set[str] = set(PLACEHOLDERS)
        self.used: set[str] = set()

    def error(self, message: str) -> ScenarioError:
        return ScenarioError(f"{self.label}: {message}")

    def fail(self, key: str, expected: str, value: Any = ...) -> ScenarioError:
        got = "" if value is ... else f", got {value!r:.60}"
        return ScenarioError(f"{self.label}: {key}: expected {expected}{got}")

    def table(self, value: Any, where: str, keys: Table | None = None) -> dict[str, Any]:
        """A TOML table; with `keys`, one whose keys are all among them."""
        if not isinstance(value, dict):
            raise self.fail(where, "a table", value)
        unknown = [name for name in value if keys is not None and name not in keys.names]
        if unknown and keys is not None:
            raise ScenarioError(f"{self.label}: {key_path(where, unknown[0])}: unknown key "
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
        value, at = table[key.name], key_path(where, key.name)
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
        if key.kind == "globs":
            if not isinstance(value, list) or not all(
                    isinstance(g, str) and g and inside(g) for g in value):
                raise self.fail(at, key.expected, value)
            return tuple(value)
        if key.kind == "inherit":
            if isinstance(value, bool):
                return value
            if isinstance(value, list) and all(isinstance(n, str) and n for n in value):
                return tuple(value)
            raise self.fail(at, key.expected, value)
        return value  # tables and lists: their own methods read them

    def regex(self, table: Mapping[str, Any], key: Key, where: str) -> re.Pattern[str]:
        """A required regular expression."""
        if key.name not in table:
            raise self.fail(f"{where}.{key.name}", key.expected)
        raw = self.value(table, key, where)
        try:
            return re.compile(raw)
        except re.error as exc:
            raise self.fail(f"{where}.{key.name}", f"a regular expression ({exc})", raw) from exc

    def template(self, text: Any, at: str) -> str:
        if not isinstance(text, str) or not text:
            raise self.fail(at, "a non-empty string", text)
        for name in PLACEHOLDER.findall(text):
            if name.startswith(ENV_PREFIX):
                if name[len(ENV_PREFIX):] not in os.environ:
                    raise self.fail(at, f"{{{name}}} to name a set environment variable "
                                    f"({name[len(ENV_PREFIX):]} is not set)", text)
            elif name not in self.placeholders:
                known = ", ".join("{" + p + "}" for p in sorted(self.placeholders))
                raise self.fail(at, f"placeholders among {known} or {{env:NAME}}", text)
            self.used.add(name)
        return text
