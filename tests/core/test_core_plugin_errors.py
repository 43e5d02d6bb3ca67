"""A plugin invariant that raises is reported as a break of that invariant, not a crash."""

from __future__ import annotations

from collections.abc import Sequence

from explorer.invariants import Invariant, Transcript
from explorer.snapshot import Snapshot


def _broken_check(snapshot: Snapshot, outputs: Sequence[Transcript]) -> list[str]:
    raise KeyError("lockfile")


def test_a_raising_check_becomes_a_break() -> None:
    inv = Invariant("my_plugin", "quiescent", _broken_check)
    breaks = inv.run(Snapshot(), [])
    assert [b.invariant for b in breaks] == ["my_plugin"]
    assert "raised KeyError('lockfile')" in breaks[0].message
