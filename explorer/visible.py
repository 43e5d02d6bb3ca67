"""Text from children and traces, made safe to put on a terminal.

A child's output, a file name or a lockfile is written by the program under test, and a
trace may come from someone else: an escape sequence in it (OSC 52 writes the clipboard,
OSC 0 the window title, CSI 2J clears the screen) must be shown, not obeyed. Every face
passes what it shows through here, so control characters appear as `\\x1b` and the like.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

# C0 controls but tab and newline, DEL, and the C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

E = TypeVar("E")


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def visible(text: str) -> str:
    """`text` with every control character written out as an escape."""
    return _CONTROL.sub(_escaped, text) if _CONTROL.search(text) else text


def _visible_value(value: Any) -> Any:
    if type(value) is str:
        return visible(value)
    if type(value) in (list, tuple):
        items = [_visible_value(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if type(value) is dict:
        return {k: _visible_value(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return visible_record(value)
    return value


def visible_record(record: E) -> E:
    """A copy of a dataclass (an event) with control characters escaped in every string it
    holds; the record itself when it holds none, which is the common case and costs a scan."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:  # a live app passes every line of every child through here
        assert dataclasses.is_dataclass(record) and not isinstance(record, type)
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(record))
    changes = {}
    for name in names:
        value = getattr(record, name)
        if type(value) is str:
            if _CONTROL.search(value):
                changes[name] = visible(value)
        elif type(value) not in (int, float, bool, type(None)):
            shown = _visible_value(value)
            if shown != value:
                changes[name] = shown
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]


_FIELDS: dict[type, tuple[str, ...]] = {}
