"""The built-in invariants on hand-made snapshots: what passes, what breaks, in which words."""

from __future__ import annotations

import json

from core_helpers import REFERENCE, reference_snapshot

from explorer.events import Break, CatalogRow
from explorer.invariants import Invariant, Transcript, due
from explorer.snapshot import Snapshot

# The built-ins as the reference scenario declares them (its stores, its words).
lockfile_parses = REFERENCE["lockfile_parses"].run
catalog_matches_lockfile = REFERENCE["catalog_matches_lockfile"].run
tree_matches_lockfile = REFERENCE["tree_matches_lockfile"].run
no_duplicate_type_error = REFERENCE["no_duplicate_type_error"].run

ALPHA_FILES = ["@stress/alpha/models/alpha_legacy.json", "@stress/alpha/models/alpha_model.json"]
BETA_FILES = ["@stress/beta/models/beta_model.json"]


def lockfile(**entries: tuple[str, list[str]]) -> str:
    names = {"alpha": "@stress/alpha", "beta": "@stress/beta"}
    return json.dumps({
        names[key]: {"version": version, "pulledAt": "2026-01-01T00:00:00Z", "files": files,
                     "checksum": "0" * 64}
        for key, (version, files) in entries.items()
    })


def rows(name: str, version: str, state: str = "Indexed", type_: str | None = None,
         n: int = 1) -> list[CatalogRow]:
    type_ = type_ or f"{name}-model"
    return [CatalogRow(name, version, "model", type_, f"{name}/models/m{i}.json", state)
            for i in range(n)]


def agreeing() -> Snapshot:
    return reference_snapshot(
        lockfile=lockfile(alpha=("1.0.0", ALPHA_FILES), beta=("1.0.0", BETA_FILES)),
        catalog=(rows("@stress/alpha", "1.0.0", n=2) + rows("@stress/beta", "1.0.0")),
        files=(sorted(ALPHA_FILES + BETA_FILES)),
    )


def out(*lines: str, child: int = 0, label: str = "pull @stress/beta") -> list[Transcript]:
    return [Transcript(child, label, tuple(lines), 1)]


def test_every_builtin_passes_on_agreeing_stores() -> None:
    snapshot = agreeing()
    for invariant in REFERENCE.values():
        pulled = [Transcript(0, "pull @stress/beta", ("Pulled @stress/beta@1.0.0",), 0)]
        assert invariant.run(snapshot, pulled) == [], invariant.name


def test_empty_repo_is_consistent() -> None:
    empty = reference_snapshot(lockfile=None)
    assert all(inv.run(empty, []) == [] for inv in REFERENCE.values())


# -- (iii) lockfile_parses ---------------------------------------------------------------


def test_torn_lockfile_is_named_with_its_parse_error() -> None:
    torn = agreeing().text("lockfile")[:40]  # type: ignore[index]
    [brk] = lockfile_parses(reference_snapshot(lockfile=torn), [])
    assert brk.invariant == "lockfile_parses"
    assert "not valid JSON" in brk.message and "line 1" in brk.message
    assert "40 bytes" in brk.message


def test_lockfile_that_is_not_an_object_or_lacks_a_version_breaks() -> None:
    [brk] = lockfile_parses(reference_snapshot(lockfile="[1, 2]"), [])
    assert "JSON list, not an object" in brk.message
    [brk] = lockfile_parses(reference_snapshot(lockfile='{"@stress/beta": {"files": []}}'), [])
    assert brk.extension == "@stress/beta" and "no version string" in brk.message


# -- (i) catalog_matches_lockfile --------------------------------------------------------


def test_lockfile_entry_without_indexed_rows_names_the_tombstones() -> None:
    snapshot = reference_snapshot(
        lockfile=lockfile(beta=("1.0.0", BETA_FILES)),
        catalog=(rows("@stress/beta", "1.0.0", state="Tombstoned")),
        files=(BETA_FILES),
    )
    [brk] = catalog_matches_lockfile(snapshot, [])
    assert brk == Break(
        "catalog_matches_lockfile",
        "the lockfile lists @stress/beta@1.0.0 but the catalog has no Indexed row for "
        "@stress/beta (tombstoned: 1.0.0)",
        extension="@stress/beta",
    )


def test_indexed_rows_without_lockfile_entry_break() -> None:
    snapshot = reference_snapshot(lockfile=lockfile(), catalog=(rows("@stress/alpha", "2.0.0")))
    [brk] = catalog_matches_lockfile(snapshot, [])
    assert brk.extension == "@stress/alpha"
    assert brk.message == ("the catalog indexes @stress/alpha@2.0.0 but the lockfile has no "
                           "entry for @stress/alpha")


def test_version_skew_says_what_each_store_holds() -> None:
    snapshot = reference_snapshot(
        lockfile=lockfile(alpha=("2.0.0", [])),
        catalog=(rows("@stress/alpha", "1.0.0") + rows("@stress/alpha", "2.0.0")),
    )
    [brk] = catalog_matches_lockfile(snapshot, [])
    assert brk.message == ("version skew for @stress/alpha: the lockfile says 2.0.0, the "
                           "catalog indexes 1.0.0, 2.0.0")


def test_unparsable_lockfile_is_left_to_lockfile_parses() -> None:
    snapshot = reference_snapshot(lockfile="{", catalog=rows("a", "1"))
    assert catalog_matches_lockfile(snapshot, []) == []


# -- (ii) no_duplicate_type_error ----------------------------------------------------------


def test_two_extensions_indexing_one_type_break() -> None:
    snapshot = reference_snapshot(
        lockfile=lockfile(alpha=("1.0.0", []), beta=("1.0.0", [])),
        catalog=(rows("@stress/alpha", "1.0.0", type_="shared")
                      + rows("@stress/beta", "1.0.0", type_="shared")),
    )
    [brk] = no_duplicate_type_error(snapshot, [])
    expected = "2 extensions have Indexed model rows of type shared: @stress/alpha, @stress/beta"
    assert brk.message == expected


# -- (iv) tree_matches_lockfile ------------------------------------------------------------


def test_listed_file_missing_from_disk() -> None:
    snapshot = reference_snapshot(lockfile=lockfile(alpha=("1.0.0", ALPHA_FILES)),
                        files=(ALPHA_FILES[1],))
    [brk] = tree_matches_lockfile(snapshot, [])
    assert brk.message == ("@stress/alpha: lockfile entry @stress/alpha@1.0.0 lists 1 file(s) "
                           "missing from disk (@stress/alpha/models/alpha_legacy.json)")


def test_file_on_disk_no_entry_lists() -> None:
    snapshot = reference_snapshot(lockfile=lockfile(), files=(BETA_FILES))
    [brk] = tree_matches_lockfile(snapshot, [])
    assert brk.extension == "@stress/beta"
    assert brk.message == ("@stress/beta: 1 file(s) on disk that no entry lists "
                           "(@stress/beta/models/beta_model.json); the lockfile has no entry "
                           "for @stress/beta")


def test_many_paths_are_counted_not_all_quoted() -> None:
    files = [f"@stress/alpha/f{i}.json" for i in range(6)]
    [brk] = tree_matches_lockfile(reference_snapshot(lockfile=lockfile(), files=(files)), [])
    assert "6 file(s)" in brk.message and "and 3 more" in brk.message


# -- plumbing ----------------------------------------------------------------------------


def test_plugin_results_are_named_after_the_invariant() -> None:
    def loose(snapshot: Snapshot, outputs: object) -> list[Break | str]:
        return ["plain words", Break("whatever", "a break", classification="healed")]

    inv = Invariant("my_check", "quiescent", loose)  # type: ignore[arg-type]
    assert inv.run(agreeing(), []) == [Break("my_check", "plain words"),
                                       Break("my_check", "a break")]


def test_due_by_phase() -> None:
    invs = list(REFERENCE.values())
    assert [i.name for i in due(invs, "live")] == ["lockfile_parses"]
    assert len(due(invs, "quiescent")) == len(invs)  # all but the final-only ones
    final = Invariant("after_reconcile", "final", lambda s, o: [])
    assert final not in due([*invs, final], "quiescent")
    assert final in due([*invs, final], "final")
