"""The checkpoint client against a stand-in explorer: hello, the order of the phases,
yields at lock retries, and holding a child where its timing matters."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading

from lifecycle.checkpoint import CHECKPOINTS, SPIN_CHECKPOINTS, checkpoint
from lifecycle_harness import EXHAUSTED, Cli, Conductor, assert_agree, finish

PULL_PHASES = [
    "ext-lock-acquired",
    "lockfile-read",
    "files-written",
    "lock-acquired",
    "lockfile-writing",
    "lockfile-written",
    "lock-released",
    "catalog-begin",
    "catalog-commit",
    "ext-lock-released",
]
RM_PHASES = [
    "ext-lock-acquired",
    "lockfile-read",
    "rm-catalog",
    "catalog-begin",
    "catalog-commit",
    "rm-lockfile",
    "lock-acquired",
    "lockfile-written",
    "lock-released",
    "rm-files",
    "ext-lock-released",
]


def in_order(seen: list[str], expected: list[str]) -> bool:
    position = iter(seen)
    return all(name in position for name in expected)


def test_without_a_socket_a_checkpoint_does_nothing() -> None:
    assert "RACE_EXPLORER_SOCKET" not in os.environ
    assert checkpoint("files-written") is None


def test_a_pull_says_hello_then_reports_each_phase_in_order(cli: Cli, conductor: Conductor) -> None:
    proc = cli.start("extension", "pull", "@stress/alpha@1.0.0", **conductor.env(7))
    assert finish(proc).returncode == 0
    assert conductor.hellos == {7: proc.pid}
    seen = conductor.names(7)
    assert in_order(seen, PULL_PHASES), seen
    assert set(seen) <= CHECKPOINTS.keys()
    assert all(a.verb == "at" for a in conductor.arrivals)
    assert_agree(cli.repo)


def test_rm_reports_catalog_then_lockfile_then_files(cli: Cli, conductor: Conductor) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    assert finish(cli.start("extension", "rm", "@stress/beta", **conductor.env(1))).returncode == 0
    assert in_order(conductor.names(1), RM_PHASES), conductor.names(1)


def test_every_lock_retry_yields(cli: Cli, conductor: Conductor) -> None:
    lock = cli.repo / "extensions/models/upstream_extensions.json.lock"
    lock.write_text(f"{os.getpid()}\n")
    done = finish(cli.start("extension", "pull", "@stress/beta", **conductor.env(3)))
    assert done.stderr.strip() == EXHAUSTED
    retries = [a for a in conductor.arrivals if a.name == "lock-retry"]
    assert len(retries) == 9  # 10 tries: a retry between each
    assert {a.verb for a in retries} == {"yield"} and "lock-retry" in SPIN_CHECKPOINTS


def test_a_held_child_stays_at_its_checkpoint_until_released(
    cli: Cli, conductor: Conductor
) -> None:
    conductor.hold(2, "files-written")
    proc = cli.start("extension", "pull", "@stress/beta", **conductor.env(2))
    conductor.wait_parked(2, "files-written")
    lockfile = cli.repo / "extensions/models/upstream_extensions.json"
    # Files are in the tree, the lockfile does not list them yet: the window a race uses.
    assert (cli.repo / ".swamp/pulled-extensions/@stress/beta/models/beta_model.json").is_file()
    assert lockfile.read_text().strip() == "{}"
    assert proc.poll() is None
    conductor.release(2)
    assert finish(proc).returncode == 0
    assert_agree(cli.repo)


def test_a_waiting_extension_lock_is_reported_as_a_yield(cli: Cli, conductor: Conductor) -> None:
    conductor.hold(1, "files-written")
    first = cli.start("extension", "pull", "@stress/beta", **conductor.env(1))
    conductor.wait_parked(1, "files-written")
    second = cli.start("extension", "rm", "@stress/beta", **conductor.env(2))
    conductor.wait_arrival(2, "ext-lock-wait")
    assert [a.verb for a in conductor.arrivals if a.name == "ext-lock-wait"] == ["yield"]
    assert "rm-catalog" not in conductor.names(2)  # blocked behind the pull's phases
    conductor.release(1)
    assert finish(first).returncode == 0
    assert finish(second).returncode == 0
    stores = assert_agree(cli.repo)
    assert stores.entries == {}


def test_a_child_whose_explorer_hangs_up_runs_on_and_says_so(cli: Cli) -> None:
    directory = tempfile.mkdtemp(prefix="lc-")
    path = os.path.join(directory, "s")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.makefile("rb").readline()  # hello
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        done = finish(
            cli.start(
                "extension",
                "pull",
                "@stress/beta",
                RACE_EXPLORER_SOCKET=path,
                RACE_EXPLORER_CHILD="0",
            )
        )
    finally:
        server.close()
        shutil.rmtree(directory)
    assert done.returncode == 0
    assert "race-explorer checkpoint:" in done.stderr and "running uncontrolled" in done.stderr
    assert_agree(cli.repo)
