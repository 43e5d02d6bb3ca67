"""The seed's invariants where swamp's stores and messages differ from the reference
CLI's, on what the real CLI wrote and printed (recorded from runs against it)."""

from __future__ import annotations

import json

from swamp.invariants import no_duplicate_type_error, no_lock_exhaustion, tree_matches_lockfile

from explorer.events import CatalogRow
from explorer.invariants import Transcript
from explorer.snapshot import Snapshot

TREE = ".swamp/pulled-extensions"


def lockfile(**entries: list[str]) -> str:
    """The real lockfile's shape: repo-relative `files`, sorted."""
    return json.dumps({
        f"@stress/{name}": {"version": "2026.05.05.1", "pulledAt": "2026-12-01T14:59:32.571Z",
                            "files": [f"{TREE}/@stress/{name}/{f}" for f in sorted(files)],
                            "checksum": "3d81", "filesChecksum": "8e8a",
                            "serverUrl": "http://127.0.0.1:1"}
        for name, files in entries.items()
    }, indent=2)


def test_a_tree_that_matches_the_repo_relative_lockfile_holds() -> None:
    snapshot = Snapshot(
        lockfile=lockfile(alpha=["manifest.yaml", "models/noop.ts"]),
        files=("@stress/alpha/manifest.yaml", "@stress/alpha/models/noop.ts"),
    )
    assert tree_matches_lockfile(snapshot, []) == []


def test_a_file_no_entry_lists_and_a_listed_file_missing_both_break() -> None:
    snapshot = Snapshot(
        lockfile=lockfile(alpha=["manifest.yaml", "models/noop.ts"]),
        files=("@stress/alpha/manifest.yaml", "@stress/beta/models/noop.ts"),
    )
    messages = sorted(b.message for b in tree_matches_lockfile(snapshot, []))
    assert len(messages) == 2
    assert messages[0].startswith("@stress/alpha: lockfile entry @stress/alpha@2026.05.05.1 "
                                  "lists 1 file(s) missing from disk (@stress/alpha/models/")
    assert messages[1].startswith("@stress/beta: 1 file(s) on disk that no entry lists")


def transcript(*lines: str) -> Transcript:
    return Transcript(child=2, label="pull @stress/beta@2026.05.05.1", lines=lines)


def test_swamps_user_facing_type_collision_is_a_duplicate_type_break() -> None:
    line = ('Error: Type "@stress/alpha-model" (kind=model) is already claimed by '
            "@stress/alpha@2026.05.05.1 at /r/.swamp/pulled-extensions/@stress/alpha/models/"
            "noop.ts. Cannot install @stress/gamma@1 at ... — filesystem changes rolled back.")
    breaks = no_duplicate_type_error(Snapshot(lockfile=None), [transcript("fine", line)])
    assert [b.message for b in breaks] == [f"child 2 (pull @stress/beta@2026.05.05.1) "
                                           f"reported: {line}"]


def test_two_extensions_indexing_one_type_is_a_duplicate_type_break() -> None:
    rows = tuple(CatalogRow(f"@stress/{n}", "2026.05.05.1", "model", "@stress/alpha-model",
                            f"/b/{n}.js", "Indexed") for n in ("alpha", "beta"))
    breaks = no_duplicate_type_error(Snapshot(lockfile=None, catalog=rows), [])
    assert len(breaks) == 1 and "@stress/alpha, @stress/beta" in breaks[0].message


def test_an_orphan_row_names_the_extension_from_its_source_path() -> None:
    line = ("2026-12-01T15:00:00.000Z [WRN] extension·repository: Dropping orphan row at "
            "/r/.swamp/pulled-extensions/@stress/alpha/models/noop.ts: source path matches "
            "no known extension layout.")
    lock = "Error: Could not acquire lock on upstream_extensions.json. Another operation..."
    breaks = no_lock_exhaustion(Snapshot(lockfile=None), [transcript(line, "ok", lock)])
    assert [b.extension for b in breaks] == ["@stress/alpha", None]
    assert "dropped an orphan catalog row" in breaks[0].message
    assert "ran out of lock retries" in breaks[1].message


def test_clean_output_breaks_nothing() -> None:
    out = transcript('[INF] extension·pull: Pulled "@stress/beta"@"2026.05.05.1"')
    assert no_lock_exhaustion(Snapshot(lockfile=None), [out]) == []
    assert no_duplicate_type_error(Snapshot(lockfile=None), [out]) == []
