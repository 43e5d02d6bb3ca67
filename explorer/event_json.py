"""Events read back from their JSON lines (the trace, the runner's pipe to the app): each
kind's fields checked against its dataclass, the nested records rebuilt."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from explorer.events import (
    EVENT_TYPES,
    Break,
    CatalogRow,
    ChildSpec,
    Event,
    InvariantSpec,
    StoreState,
    field_names,
)
from explorer.schema import Check, SchemaError, object_checker

_NESTED: dict[str, Callable[..., Any]] = {
    "ops": ChildSpec,
    "children": ChildSpec,
    "invariants": InvariantSpec,
    "catalog": CatalogRow,
    "breaks": Break,
    "stores": StoreState.from_dict,
}
_PAIRS = ("changes", "parked")
# Which of those each kind has, so that the common kinds (child output) skip the lookups.
_NESTED_OF: dict[type[Event], list[tuple[str, Callable[..., Any]]]] = {
    cls: [(k, f) for k, f in _NESTED.items() if k in field_names(cls)]
    for cls in EVENT_TYPES.values()
}
_PAIRS_OF: dict[type[Event], list[str]] = {
    cls: [k for k in _PAIRS if k in field_names(cls)] for cls in EVENT_TYPES.values()
}
# One check per kind, derived from the dataclass: the fields are declared once, above.
_CHECKS: dict[str, Check] = {
    kind: object_checker(cls, ignore=frozenset({"kind"})) for kind, cls in EVENT_TYPES.items()
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output; raises ValueError naming the field
    when a value is missing or not of its declared type."""
    if type(data) is not dict:
        raise ValueError(f"not an event object: {data!r:.80}")
    kind = data.get("kind")
    cls = EVENT_TYPES.get(kind) if type(kind) is str else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r:.40}")
    try:
        _CHECKS[cls.kind](data)
    except SchemaError as exc:
        raise ValueError(f"bad {cls.kind} event: {exc}") from exc
    kwargs = dict(data)
    del kwargs["kind"]
    for key, nested in _NESTED_OF[cls]:
        if key in kwargs:
            kwargs[key] = [nested(item) if key == "stores" else nested(**item)
                           for item in kwargs[key]]
    for key in _PAIRS_OF[cls]:
        if key in kwargs:
            kwargs[key] = [tuple(pair) for pair in kwargs[key]]
    if len(kwargs) < len(field_names(cls)):
        return cls(**kwargs)  # the defaults fill the rest
    # Every field is there and checked: set them as the frozen __init__ would, without
    # its object.__setattr__ a field, half the cost of a child's line read back.
    event = object.__new__(cls)
    event.__dict__.update(kwargs)
    return event


def event_from_json(line: str | bytes) -> Event:
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    return event_from_dict(data)
