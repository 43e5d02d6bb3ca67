"""Which paths fall under the roots, and options that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.intercept.options import Roots, SyscallOptions


def test_a_path_is_named_relative_to_the_deepest_root_holding_it(tmp_path: Path) -> None:
    roots = Roots([str(tmp_path / "repo"), str(tmp_path / "repo" / "store")])
    assert roots.relative(str(tmp_path / "repo" / "a" / "b.json")) == "a/b.json"
    assert roots.relative(str(tmp_path / "repo" / "store" / "c")) == "c"
    assert roots.relative(str(tmp_path / "repo")) == "."
    assert roots.relative(str(tmp_path / "repository" / "x")) is None  # a prefix, not a parent
    assert roots.relative(str(tmp_path / "x")) is None


def test_a_root_given_through_a_symlink_matches_the_real_path(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    roots = Roots([str(tmp_path / "alias")])
    assert roots.relative(str(tmp_path / "real" / "f")) == "f"  # what /proc/TID/cwd says
    assert roots.relative(str(tmp_path / "alias" / "f")) == "f"  # what the program said


def test_options_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unknown call group 'stat'"):
        SyscallOptions.under(["/repo"], ["paths", "stat"])
    with pytest.raises(ValueError, match="root 'repo' is not an absolute path"):
        SyscallOptions.under(["repo"])
