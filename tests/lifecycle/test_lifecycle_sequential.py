"""Sequential pull / rm / update through the real CLI: the three stores agree after each."""

from __future__ import annotations

import json
import sqlite3

from lifecycle_harness import Cli, assert_agree, read_stores

ALPHA_V1 = {"@stress/alpha/models/alpha_legacy.json", "@stress/alpha/models/alpha_model.json"}
ALPHA_V2 = {"@stress/alpha/models/alpha_model.json", "@stress/alpha/workflows/alpha_sync.json"}
BETA = {"@stress/beta/models/beta_model.json"}


def test_init_creates_empty_agreeing_stores(cli: Cli) -> None:
    fresh = Cli(cli.repo.parent / "fresh", cli.registry_url)
    assert fresh.ok("init").strip() == f"Initialised {fresh.repo}"
    stores = assert_agree(fresh.repo)
    assert stores.entries == {} and stores.rows == [] and stores.files == set()
    con = sqlite3.connect(fresh.repo / ".swamp/_extension_catalog.db")
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
    fresh.ok("extension", "pull", "@stress/beta")
    fresh.ok("init")  # idempotent: keeps what is there
    assert set(read_stores(fresh.repo).entries) == {"@stress/beta"}


def test_ops_on_an_uninitialised_repo_fail_with_a_hint(cli: Cli) -> None:
    other = Cli(cli.repo.parent / "elsewhere", cli.registry_url)
    assert "not initialised" in other.fails("extension", "pull", "@stress/beta")


def test_pull_records_the_same_extension_in_all_three_stores(cli: Cli) -> None:
    assert "Pulled @stress/alpha@1.0.0 (2 files)" in cli.ok(
        "extension", "pull", "@stress/alpha@1.0.0"
    )
    cli.ok("extension", "pull", "@stress/beta")
    stores = assert_agree(cli.repo)
    assert stores.files == ALPHA_V1 | BETA
    assert stores.entries["@stress/beta"]["version"] == "1.0.0"
    assert len(stores.entries["@stress/alpha"]["checksum"]) == 64
    assert sorted(r[3] for r in stores.rows) == [
        "@stress/alpha-legacy",
        "@stress/alpha-model",
        "@stress/beta-model",
    ]


def test_pull_without_version_takes_the_latest(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha")
    assert read_stores(cli.repo).entries["@stress/alpha"]["version"] == "2.0.0"


def test_pulling_an_installed_version_again_reinstalls_it(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    beta = cli.repo / ".swamp/pulled-extensions/@stress/beta/models/beta_model.json"
    beta.write_text("{}")  # damaged on disk
    assert "Pulled @stress/beta@1.0.0" in cli.ok("extension", "pull", "@stress/beta@1.0.0")
    assert json.loads(beta.read_text())["type"] == "@stress/beta-model"
    stores = assert_agree(cli.repo)
    assert [r[5] for r in stores.rows] == ["Indexed"]  # replaced, not duplicated


def test_a_changed_checksum_for_a_locked_version_needs_force(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    lockfile = cli.repo / "extensions/models/upstream_extensions.json"
    entries = json.loads(lockfile.read_text())
    real = entries["@stress/beta"]["checksum"]
    entries["@stress/beta"]["checksum"] = "f" * 64  # as if locked before a republish
    lockfile.write_text(json.dumps(entries))
    err = cli.fails("extension", "pull", "@stress/beta")
    assert "changed in the registry since it was locked" in err
    assert read_stores(cli.repo).entries["@stress/beta"]["checksum"] == "f" * 64
    cli.ok("extension", "pull", "@stress/beta", "--force")
    assert assert_agree(cli.repo).entries["@stress/beta"]["checksum"] == real


def test_update_upgrades_and_tombstones_the_old_version(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    cli.ok("extension", "pull", "@stress/beta")
    out = cli.ok("extension", "update")
    assert "Updated @stress/alpha 1.0.0 -> 2.0.0" in out
    assert "@stress/beta is up to date (1.0.0)" in out
    stores = assert_agree(cli.repo)
    assert stores.files == ALPHA_V2 | BETA  # the legacy file v2 no longer ships is gone
    states = {(r[1], r[4]): r[5] for r in stores.rows if r[0] == "@stress/alpha"}
    assert states == {
        ("1.0.0", "@stress/alpha/models/alpha_legacy.json"): "Tombstoned",
        ("1.0.0", "@stress/alpha/models/alpha_model.json"): "Tombstoned",
        ("2.0.0", "@stress/alpha/models/alpha_model.json"): "Indexed",
        ("2.0.0", "@stress/alpha/workflows/alpha_sync.json"): "Indexed",
    }


def test_downgrade_by_pull_tombstones_the_newer_version(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha")
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    stores = assert_agree(cli.repo)
    assert stores.indexed == {("@stress/alpha", "1.0.0")}
    assert stores.files == ALPHA_V1


def test_rm_removes_from_all_stores_and_prunes_only_the_deepest_dir(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    cli.ok("extension", "pull", "@stress/beta")
    assert "Removed @stress/alpha@1.0.0" in cli.ok("extension", "rm", "@stress/alpha")
    stores = assert_agree(cli.repo)
    assert stores.files == BETA
    assert {r[5] for r in stores.rows if r[0] == "@stress/alpha"} == {"Tombstoned"}
    tree = cli.repo / ".swamp/pulled-extensions"
    assert not (tree / "@stress/alpha/models").exists()
    assert (tree / "@stress/alpha").is_dir()  # the seed's rm leaves emptied parents


def test_double_rm_fails_cleanly_and_changes_nothing(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    cli.ok("extension", "rm", "@stress/alpha")
    before = read_stores(cli.repo)
    err = cli.fails("extension", "rm", "@stress/alpha")
    assert err.strip() == "@stress/alpha is not installed"
    after = assert_agree(cli.repo)
    assert (after.entries, after.rows, after.files) == (before.entries, before.rows, before.files)
    assert not (cli.repo / "extensions/models/upstream_extensions.json.lock").exists()
    assert "not installed" in cli.ok("extension", "rm", "@stress/alpha", "--force")


def test_update_of_one_name_and_of_a_missing_name(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    assert "Updated" in cli.ok("extension", "update", "@stress/alpha")
    assert cli.fails("extension", "update", "@stress/beta").strip() == (
        "@stress/beta is not installed"
    )


def test_unknown_extension_fails_with_one_line(cli: Cli) -> None:
    err = cli.fails("extension", "pull", "@stress/nope")
    assert "not found in the registry" in err and len(err.strip().splitlines()) == 1
    assert_agree(cli.repo)


def test_list_shows_what_is_installed(cli: Cli) -> None:
    assert cli.ok("extension", "list").strip() == "No extensions installed"
    cli.ok("extension", "pull", "@stress/beta")
    assert "@stress/beta@1.0.0  1 files  indexed" in cli.ok("extension", "list")
    listed = json.loads(cli.ok("extension", "list", "--json"))
    assert [(i["name"], i["version"], i["indexed"]) for i in listed] == [
        ("@stress/beta", "1.0.0", True)
    ]


def test_bugs_lists_every_seeded_bug_with_its_invariant(cli: Cli) -> None:
    from lifecycle.faults import BUGS

    out = cli.ok("bugs")
    for bug in BUGS:
        line = next(line for line in out.splitlines() if line.strip().startswith(bug + ":"))
        assert "->" in line  # names the invariant that should notice
    assert json.loads(cli.ok("bugs", "--json"))["bugs"].keys() == BUGS.keys()


def test_unknown_profile_or_bug_is_refused(cli: Cli) -> None:
    assert "unknown LIFECYCLE_BUGS" in cli.fails(
        "extension", "pull", "@stress/beta", LIFECYCLE_BUGS="no-such-bug"
    )
    assert "unknown LIFECYCLE_PROFILE" in cli.fails(
        "extension", "pull", "@stress/beta", LIFECYCLE_PROFILE="sloppy"
    )
    assert read_stores(cli.repo).entries == {}
