"""Checks that decoded JSON matches a dataclass's field types, derived from its annotations.

The event dataclasses are the one declaration of what a trace line holds; this module turns
their type hints into a check, so a line with the right keys but the wrong types (a string
where an iteration number belongs) is refused as a whole instead of reaching a face.
Only the shapes the events use are understood: scalars, Literal, unions with None, list,
fixed tuples (JSON arrays), dict and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

Check = Callable[[Any], None]  # raises SchemaError


class SchemaError(ValueError):
    """A decoded value does not have the declared type; the message names the field.

    The path is built while the error unwinds through the containers, so a value that
    passes costs no string work."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(problem)
        self.problem, self.path = problem, path

    def within(self, segment: str) -> SchemaError:
        self.path = segment + ("." if self.path[:1] not in ("", "[") else "") + self.path
        return self

    def __str__(self) -> str:
        return f"{self.path} {self.problem}" if self.path else self.problem


def _fail(value: Any, expected: str) -> typing.NoReturn:
    raise SchemaError(f"is {_shown(value)}, expected {expected}")


def _shown(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(tp: Any) -> str:
    """The type in the words of a JSON document."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is list:
        return f"a list of {describe(args[0])}"
    if origin is tuple:
        return f"a pair [{', '.join(describe(a) for a in args)}]"
    if origin is dict:
        return f"an object of {describe(args[1])}"
    if dataclasses.is_dataclass(tp):
        return f"an object with {', '.join(f.name for f in dataclasses.fields(tp))}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(tp, str(tp))


def _scalar(tp: type) -> Check:
    expected = describe(tp)
    if tp is float:
        def check_number(value: Any) -> None:
            if type(value) not in (int, float):  # bool is an int subclass: refused too
                _fail(value, expected)
        return check_number

    def check_exact(value: Any) -> None:
        if type(value) is not tp:
            _fail(value, expected)
    return check_exact


def checker(tp: Any) -> Check:
    """A check for values of type `tp` (as written in a dataclass annotation)."""
    origin, args = get_origin(tp), get_args(tp)
    expected = describe(tp)
    if tp is Any:
        return lambda value: None
    if origin is Literal:
        allowed = frozenset(args)

        def check_literal(value: Any) -> None:
            if type(value) is not str or value not in allowed:
                _fail(value, expected)
        return check_literal
    if origin in (Union, types.UnionType):
        optional = type(None) in args
        options = [checker(a) for a in args if a is not type(None)]

        def check_union(value: Any) -> None:
            if value is None and optional:
                return
            for option in options:
                try:
                    option(value)
                    return
                except SchemaError:
                    continue
            _fail(value, expected)
        return check_union
    if origin is list:
        item = checker(args[0])

        def check_list(value: Any) -> None:
            if type(value) is not list:
                _fail(value, expected)
            for n, element in enumerate(value):
                try:
                    item(element)
                except SchemaError as exc:
                    raise exc.within(f"[{n}]") from None
        return check_list
    if origin is tuple:
        parts = tuple(enumerate(checker(a) for a in args))
        size = len(args)

        def check_pair(value: Any) -> None:
            if type(value) not in (list, tuple) or len(value) != size:
                _fail(value, expected)
            for n, part in parts:
                try:
                    part(value[n])
                except SchemaError as exc:
                    raise exc.within(f"[{n}]") from None
        return check_pair
    if origin is dict:
        key, val = checker(args[0]), checker(args[1])

        def check_dict(value: Any) -> None:
            if type(value) is not dict:
                _fail(value, expected)
            for k, v in value.items():
                try:
                    key(k)
                    val(v)
                except SchemaError as exc:
                    raise exc.within(f"[{k!r}]") from None
        return check_dict
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return object_checker(tp)
    if isinstance(tp, type):
        return _scalar(tp)
    raise TypeError(f"no schema for {tp!r}")


def object_checker(cls: type, *, ignore: frozenset[str] = frozenset()) -> Check:
    """A check for a JSON object holding `cls`'s fields: every required one, no unknown one
    (keys in `ignore` are let through), each of its declared type."""
    hints = get_type_hints(cls)
    fields = [(f.name, checker(hints[f.name]),
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
              for f in dataclasses.fields(cls)]
    known = {name for name, _, _ in fields} | ignore
    expected = describe(cls)

    def check_object(value: Any) -> None:
        if type(value) is not dict:
            _fail(value, expected)
        for name, check, required in fields:
            if name in value:
                try:
                    check(value[name])
                except SchemaError as exc:
                    raise exc.within(name) from None
            elif required:
                raise SchemaError("is missing", name)
        if not value.keys() <= known:
            unknown = sorted(map(str, value.keys() - known))
            raise SchemaError(f"has unknown field(s) {', '.join(unknown)}")
    return check_object
