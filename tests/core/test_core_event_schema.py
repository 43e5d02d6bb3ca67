"""Every trace line is checked against its kind's dataclass: a wrong type is refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_core_trace import sample

from explorer.event_json import event_from_dict, event_from_json
from explorer.events import EVENT_TYPES, CheckpointReached, ChildStarted, Event

ISSUE_LINE = '{"kind":"child_output","t":"x","iteration":"one","child":null,"stream":5,"line":7}'


def every_kind() -> list[Event]:
    extra: list[Event] = [
        ChildStarted(t=1.0, iteration=1, child=0, label="pull", argv=["x"], pid=42),
        CheckpointReached(t=1.0, iteration=1, child=0, name="lock.acquired"),
    ]
    events = sample() + extra
    assert {e.kind for e in events} == set(EVENT_TYPES)  # the sample covers every kind
    return events


@pytest.mark.parametrize(("line", "named"), [
    (ISSUE_LINE, "bad child_output event: t is 'x', expected a number"),
    ('{"kind":"child_exited","t":1.0,"iteration":1,"child":0,"returncode":"0"}',
     "returncode is '0', expected an integer or null"),
    ('{"kind":"child_exited","t":true,"iteration":1,"child":0,"returncode":0}', "t is True"),
    ('{"kind":"child_output","t":1.0,"iteration":1,"child":0,"stream":"tty","line":"a"}',
     "stream is 'tty', expected one of 'stdout', 'stderr'"),
    ('{"kind":"child_output","t":1.0,"iteration":1,"child":0,"stream":"stdout"}',
     "line is missing"),
    ('{"kind":"child_output","t":1,"iteration":1,"child":0,"stream":"stdout","line":"a",'
     '"colour":1}', "unknown field(s) colour"),
    ('{"kind":"iteration_finished","t":1.0,"iteration":1,"duration":0.1,"verdict":"failed",'
     '"breaks":[{"invariant":"x","message":null}]}', "breaks[0].message is null"),
    ('{"kind":"file_changed","t":1.0,"iteration":1,"changes":[["added"]]}', "changes[0] is"),
    ('{"kind":"run_finished","t":1.0,"iterations":1,"counts":{"healed":"2"},"exit_code":1}',
     "counts['healed'] is '2'"),
    ('[1, 2]', "not an event object"),
    ('{"kind":"nope","t":1.0}', "unknown event kind 'nope'"),
])
def test_a_line_with_a_wrong_field_is_refused_naming_the_field(line: str, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        event_from_json(line)
    assert named in str(caught.value)


@pytest.mark.parametrize("event", every_kind(), ids=lambda e: e.kind)
def test_every_field_of_every_kind_is_checked(event: Event) -> None:
    data = json.loads(event.to_json())
    assert event_from_dict(data) == event
    for name in data:
        if name == "kind":
            continue
        wrong: dict[str, Any] = {**data, name: {"not": "this"}}  # no field holds an object
        with pytest.raises(ValueError, match=rf"bad {event.kind} event: {name}( is|\[)"):
            event_from_dict(wrong)
