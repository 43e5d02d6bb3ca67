"""Each seeded bug, and the swamp-w2 profile, demonstrably changes behaviour.

Every test forces the one interleaving or failure that exposes the defect (a child
held at a checkpoint, a held catalog write lock), runs it with the bug and without,
and asserts the difference — so a bug switch that silently did nothing would fail."""

from __future__ import annotations

import json
import sqlite3

import pytest
from lifecycle_harness import EXHAUSTED, Cli, Conductor, assert_agree, finish, read_stores

BUG = "LIFECYCLE_BUGS"


def lockfile_text(cli: Cli) -> str:
    return (cli.repo / "extensions/models/upstream_extensions.json").read_text()


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("bug", [True, False])
def test_torn_lockfile_write_is_seen_mid_write(cli: Cli, conductor: Conductor, bug: bool) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    env = {BUG: "torn-lockfile-write"} if bug else {}
    conductor.hold(1, "lockfile-writing")
    proc = cli.start("extension", "pull", "@stress/beta", **env, **conductor.env(1))
    conductor.wait_parked(1, "lockfile-writing")
    assert parses(lockfile_text(cli)) is not bug  # (iii) breaks only with the bug
    conductor.release(1)
    assert finish(proc).returncode == 0
    assert_agree(cli.repo)


@pytest.mark.parametrize("bug", [True, False])
def test_no_lockfile_lock_loses_a_concurrent_entry(
    cli: Cli, conductor: Conductor, bug: bool
) -> None:
    env = {BUG: "no-lockfile-lock"} if bug else {}
    conductor.hold(1, "lockfile-writing")  # re-read done, own write not yet in place
    beta = cli.start("extension", "pull", "@stress/beta", **env, **conductor.env(1))
    conductor.wait_parked(1, "lockfile-writing")
    alpha = cli.run("extension", "pull", "@stress/alpha@1.0.0", **env)
    conductor.release(1)
    assert finish(beta).returncode == 0
    stores = read_stores(cli.repo)
    if bug:
        assert alpha.returncode == 0
        assert "@stress/alpha" not in stores.entries  # overwritten by beta's stale merge
        assert "(i) Indexed @stress/alpha@1.0.0 has no lockfile entry" in stores.breaks()
    else:
        assert alpha.stderr.strip() == EXHAUSTED  # the lock kept alpha out, cleanly
        assert stores.breaks() == []


@pytest.mark.parametrize("bug", [True, False])
def test_stale_lockfile_snapshot_writes_back_an_old_view(
    cli: Cli, conductor: Conductor, bug: bool
) -> None:
    env = {BUG: "stale-lockfile-snapshot"} if bug else {}
    conductor.hold(1, "files-written")  # snapshot taken, lockfile phase not begun
    beta = cli.start("extension", "pull", "@stress/beta", **env, **conductor.env(1))
    conductor.wait_parked(1, "files-written")
    cli.ok("extension", "pull", "@stress/alpha@1.0.0", **env)
    conductor.release(1)
    assert finish(beta).returncode == 0
    stores = read_stores(cli.repo)
    if bug:
        assert set(stores.entries) == {"@stress/beta"}
        assert "(iv) unlisted file @stress/alpha/models/alpha_model.json" in stores.breaks()
    else:
        assert set(stores.entries) == {"@stress/alpha", "@stress/beta"}
        assert stores.breaks() == []


@pytest.mark.parametrize("bug", [True, False])
def test_rm_files_first_turns_a_busy_catalog_into_missing_files(cli: Cli, bug: bool) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    before = read_stores(cli.repo)
    con = sqlite3.connect(cli.repo / ".swamp/_extension_catalog.db", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        err = cli.fails(
            "extension", "rm", "@stress/beta", **({BUG: "rm-files-first"} if bug else {})
        )
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert "database is locked" in err
    after = read_stores(cli.repo)
    if bug:
        assert after.breaks() == ["(iv) listed file missing @stress/beta/models/beta_model.json"]
    else:
        assert (after.entries, after.rows, after.files) == (
            before.entries,
            before.rows,
            before.files,
        )


@pytest.mark.parametrize("bug", [True, False])
def test_lock_leak_on_error_wedges_every_later_op(cli: Cli, bug: bool) -> None:
    env = {BUG: "lock-leak-on-error"} if bug else {}
    # rm of something not installed fails under the lockfile lock.
    assert cli.fails("extension", "rm", "@stress/alpha", **env).strip() == (
        "@stress/alpha is not installed"
    )
    lock = cli.repo / "extensions/models/upstream_extensions.json.lock"
    assert lock.exists() is bug
    later = cli.run("extension", "pull", "@stress/beta")  # even a correct op
    if bug:
        assert later.stderr.strip() == EXHAUSTED
    else:
        assert later.returncode == 0
        assert_agree(cli.repo)


@pytest.mark.parametrize("bug", [True, False])
def test_no_duplicate_rollback_leaves_the_colliding_install(cli: Cli, bug: bool) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    env = {BUG: "no-duplicate-rollback"} if bug else {}
    assert "DuplicateTypeError" in cli.fails("extension", "pull", "@stress/gamma", **env)
    stores = read_stores(cli.repo)
    if bug:
        assert stores.breaks() == [
            "(i) lockfile @stress/gamma@1.0.0 has no Indexed rows",
        ]
        assert "@stress/gamma/models/gamma_model.json" in stores.files
    else:
        assert set(stores.entries) == {"@stress/alpha"}
        assert stores.breaks() == []


@pytest.mark.parametrize("bug", [True, False])
def test_no_tombstone_on_upgrade_leaves_old_rows_indexed(cli: Cli, bug: bool) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    env = {BUG: "no-tombstone-on-upgrade"} if bug else {}
    cli.ok("extension", "pull", "@stress/alpha@2.0.0", **env)
    stores = read_stores(cli.repo)
    reconcile = cli.ok("extension", "update")
    if bug:
        assert "(i) Indexed @stress/alpha@1.0.0 has no lockfile entry" in stores.breaks()
        assert "Dropping orphan row @stress/alpha@1.0.0" in reconcile  # (ii') notices
    else:
        assert stores.breaks() == []
        assert "Dropping orphan row" not in reconcile
    assert_agree(cli.repo)


@pytest.mark.parametrize("profile", ["swamp-w2", "correct"])
def test_swamp_w2_lets_rm_run_inside_a_pull(cli: Cli, conductor: Conductor, profile: str) -> None:
    """The seed's race: pull (FS, lockfile, catalog) against rm (catalog, lockfile, FS)."""
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    env = {"LIFECYCLE_PROFILE": profile}
    conductor.hold(1, "lock-released")  # pull's FS and lockfile done, catalog not yet
    pull = cli.start("extension", "pull", "@stress/alpha@2.0.0", **env, **conductor.env(1))
    conductor.wait_parked(1, "lock-released")
    rm = cli.start("extension", "rm", "@stress/alpha", **env, **conductor.env(2))
    if profile == "swamp-w2":
        assert finish(rm).returncode == 0  # ran to the end inside the pull's window
        conductor.release(1)
        assert finish(pull).returncode == 0
        stores = read_stores(cli.repo)
        assert stores.breaks() == ["(i) Indexed @stress/alpha@2.0.0 has no lockfile entry"]
        assert "Dropping orphan row @stress/alpha@2.0.0" in cli.ok("extension", "update")
    else:
        conductor.wait_arrival(2, "ext-lock-wait")  # rm waits for the whole pull
        conductor.release(1)
        assert finish(pull).returncode == 0
        assert finish(rm).returncode == 0
        assert read_stores(cli.repo).breaks() == []
        assert "Dropping orphan row" not in cli.ok("extension", "update")
    assert assert_agree(cli.repo).entries == {}
