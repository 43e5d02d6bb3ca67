"""Crash recovery under the `correct` profile: a child SIGKILLed at a checkpoint (as the
explorer's kill faults do) leaves nothing a sequential update cannot repair, and no
lock that wedges later ops."""

from __future__ import annotations

import os
import signal

import pytest
from lifecycle_harness import Cli, Conductor, assert_agree, read_stores


def kill_at(cli: Cli, conductor: Conductor, checkpoint: str, *args: str) -> None:
    conductor.hold(1, checkpoint)
    proc = cli.start(*args, **conductor.env(1))
    conductor.wait_parked(1, checkpoint)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


PULL_POINTS = [
    "files-written",
    "lock-acquired",
    "lockfile-writing",
    "lockfile-written",
    "catalog-begin",
    "catalog-commit",
]
RM_POINTS = ["rm-catalog", "catalog-commit", "rm-lockfile", "lock-acquired", "rm-files"]


@pytest.mark.parametrize("point", PULL_POINTS)
def test_a_pull_killed_anywhere_is_repaired_by_update(
    cli: Cli, conductor: Conductor, point: str
) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    kill_at(cli, conductor, point, "extension", "pull", "@stress/alpha@2.0.0")
    out = cli.ok("extension", "update")
    assert "Dropping orphan row" not in out
    stores = assert_agree(cli.repo)
    assert set(stores.entries) <= {"@stress/alpha", "@stress/beta"}
    # The dead pull's leftovers (downloads, backups, a half-written temp lockfile) are gone.
    assert list((cli.repo / ".swamp/staging").iterdir()) == []
    assert [p.name for p in (cli.repo / "extensions/models").iterdir()] == [
        "upstream_extensions.json"
    ]
    # Whatever lock the dead pull held, the next writer is not wedged by it.
    cli.ok("extension", "pull", "@stress/alpha@1.0.0")
    assert assert_agree(cli.repo).entries["@stress/alpha"]["version"] == "1.0.0"


@pytest.mark.parametrize("point", RM_POINTS)
def test_an_rm_killed_anywhere_is_repaired_by_update(
    cli: Cli, conductor: Conductor, point: str
) -> None:
    cli.ok("extension", "pull", "@stress/alpha@2.0.0")
    kill_at(cli, conductor, point, "extension", "rm", "@stress/alpha")
    out = cli.ok("extension", "update")
    assert "Dropping orphan row" not in out
    assert_agree(cli.repo)
    cli.ok("extension", "rm", "@stress/alpha", "--force")
    assert read_stores(cli.repo).breaks() == []
