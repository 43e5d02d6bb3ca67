"""The documented failure paths: collision rollback, partial apply and its reconcile,
lock exhaustion, stale locks, hostile and corrupt bundles."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lifecycle.bundles import ABSOLUTE_ESCAPE
from lifecycle_harness import EXHAUSTED, Cli, assert_agree, read_stores

PARTIAL = (
    "Install partially applied for {} — files extracted but the catalog write "
    "failed (database is locked); retry to reconcile"
)
PARTIAL_ALPHA = PARTIAL.format("@stress/alpha")
PARTIAL_BETA = PARTIAL.format("@stress/beta")


@contextmanager
def catalog_write_lock(repo: Path) -> Iterator[None]:
    """Hold the catalog's write lock the way a concurrent writer would."""
    con = sqlite3.connect(repo / ".swamp/_extension_catalog.db", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def lock_file(repo: Path) -> Path:
    return repo / "extensions/models/upstream_extensions.json.lock"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    return proc.pid


def test_type_collision_rolls_back_files_and_lockfile(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    before = read_stores(cli.repo)
    err = cli.fails("extension", "pull", "@stress/gamma")
    assert err.strip() == (
        "DuplicateTypeError: @stress/gamma declares model type @stress/alpha-model, "
        "already indexed by @stress/alpha@1.0.0"
    )
    after = assert_agree(cli.repo)
    assert (after.entries, after.files) == (before.entries, before.files)
    assert not any(r[0] == "@stress/gamma" for r in after.rows)  # the txn rolled back


def test_a_held_catalog_write_lock_means_partial_apply_then_update_reconciles(cli: Cli) -> None:
    with catalog_write_lock(cli.repo):
        err = cli.fails("extension", "pull", "@stress/beta")
    assert err.strip() == PARTIAL_BETA
    stores = read_stores(cli.repo)
    assert stores.entries["@stress/beta"]["version"] == "1.0.0"  # the lockfile entry stays
    assert stores.files == stores.listed == {"@stress/beta/models/beta_model.json"}
    assert stores.breaks() == ["(i) lockfile @stress/beta@1.0.0 has no Indexed rows"]
    out = cli.ok("extension", "update")
    assert "Reconciled @stress/beta@1.0.0" in out
    assert "Dropping orphan row" not in out
    assert assert_agree(cli.repo).indexed == {("@stress/beta", "1.0.0")}


def test_the_next_pull_also_reconciles_a_partial_apply(cli: Cli) -> None:
    with catalog_write_lock(cli.repo):
        assert cli.fails("extension", "pull", "@stress/alpha@1.0.0").strip() == PARTIAL_ALPHA
    assert "Pulled @stress/alpha@1.0.0" in cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    assert assert_agree(cli.repo).indexed == {("@stress/alpha", "1.0.0")}


def test_rm_against_a_held_catalog_write_lock_changes_nothing(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    before = read_stores(cli.repo)
    with catalog_write_lock(cli.repo):
        err = cli.fails("extension", "rm", "@stress/beta")
    assert "database is locked" in err
    after = assert_agree(cli.repo)
    assert (after.entries, after.rows, after.files) == (before.entries, before.rows, before.files)


def test_a_held_lock_file_exhausts_the_retries_and_leaves_no_trace(cli: Cli) -> None:
    # Held by a live process (this one), so it is not stale.
    lock_file(cli.repo).write_text(f"{os.getpid()}\n")
    assert cli.fails("extension", "pull", "@stress/beta").strip() == EXHAUSTED
    stores = assert_agree(cli.repo)
    assert (stores.entries, stores.files) == ({}, set())  # the FS phase was undone
    assert lock_file(cli.repo).read_text() == f"{os.getpid()}\n"  # not taken from its owner


def test_a_lock_left_by_a_dead_process_is_taken_over(cli: Cli) -> None:
    lock_file(cli.repo).write_text(f"{dead_pid()}\n")
    cli.ok("extension", "pull", "@stress/beta")
    assert not lock_file(cli.repo).exists()
    assert_agree(cli.repo)


def test_an_ownerless_lock_is_never_taken_over(cli: Cli) -> None:
    lock_file(cli.repo).touch()
    assert cli.fails("extension", "pull", "@stress/beta").strip() == EXHAUSTED
    assert lock_file(cli.repo).exists()


def written(root: Path) -> list[Path]:
    """Every path under root, except the catalog's own files and the per-extension locks."""
    return sorted(
        p for p in root.rglob("*") if "_extension_catalog" not in p.name and p.suffix != ".lock"
    )


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("@hostile/absolute", f"unsafe bundle: absolute path {ABSOLUTE_ESCAPE}"),
        ("@hostile/dotdot", "unsafe bundle: '..' in path models/../../../../escaped-dotdot.json"),
        ("@hostile/symlink", "unsafe bundle: link models/out -> ../../../.. leaves the bundle"),
        ("@hostile/badsum", "checksum mismatch for @hostile/badsum@1.0.0"),
    ],
)
def test_hostile_bundles_are_rejected_and_write_nothing(
    cli: Cli, tmp_path: Path, name: str, complaint: str
) -> None:
    before = written(tmp_path)
    err = cli.fails("extension", "pull", name)
    assert complaint in err
    after = written(tmp_path)
    assert after == before  # nothing written anywhere: staging is cleaned up too
    assert not Path(ABSOLUTE_ESCAPE).exists()
    assert not list(tmp_path.rglob("escaped*"))
    assert_agree(cli.repo)


def test_a_corrupt_lockfile_is_reported_not_overwritten(cli: Cli) -> None:
    lockfile = cli.repo / "extensions/models/upstream_extensions.json"
    lockfile.write_text('{"@stress/alpha": ')
    assert "does not parse" in cli.fails("extension", "pull", "@stress/beta")
    assert lockfile.read_text() == '{"@stress/alpha": '
    assert not lock_file(cli.repo).exists()
