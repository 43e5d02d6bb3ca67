"""The reference CLI against hostile input: bombs, `..` in names and lockfile paths, and
paths thousands of levels deep are refused in one line, and nothing outside the tree moves."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest
from lifecycle.bundle import Limits, extract
from lifecycle.bundles import Member, tar_gz
from lifecycle.errors import UnsafeBundleError
from lifecycle_harness import Cli

# Scaled down: the defaults are 2000 members, 16 MiB a file and 64 MiB in all.
SMALL = Limits(members=5, member_bytes=64 << 10, total_bytes=128 << 10)
DEFINITION = json.dumps({"kind": "model", "type": "@t/x"}).encode()


def test_a_bomb_member_is_refused_from_its_header_before_anything_is_written(
    tmp_path: Path
) -> None:
    bomb = tar_gz([Member("models/ok.json", DEFINITION),
                   Member("models/bomb.json", bytes(8 << 20))])  # 8 MiB of zeros, ~8 KB packed
    assert len(bomb) < 64 << 10
    with pytest.raises(UnsafeBundleError,
                       match=r"models/bomb.json is 8388608 bytes \(at most 65536\)"):
        extract(bomb, tmp_path, SMALL)
    assert list(tmp_path.iterdir()) == []  # checked in full before the first write


@pytest.mark.parametrize(("members", "complaint"), [
    ([Member(f"models/m{i}.json", DEFINITION) for i in range(6)], "more than 5 members"),
    ([Member(f"models/m{i}.json", bytes(60 << 10)) for i in range(3)],
     "its files exceed 131072 bytes"),
])
def test_member_count_and_total_size_are_limited(
    tmp_path: Path, members: list[Member], complaint: str
) -> None:
    with pytest.raises(UnsafeBundleError, match=complaint):
        extract(tar_gz(members), tmp_path, SMALL)
    assert list(tmp_path.iterdir()) == []


def one_member(name: str, tar_format: int) -> bytes:
    """A tar.gz of one file under a name the ustar format cannot hold."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tar_format) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(DEFINITION)
        tar.addfile(info, io.BytesIO(DEFINITION))
    return gzip.compress(raw.getvalue())


def test_a_long_name_record_cannot_smuggle_a_bomb_past_the_headers(tmp_path: Path) -> None:
    # A GNU long-name record is read whole into memory before the member is seen.
    bomb = one_member("models/" + "a" * (1 << 20) + ".json", tarfile.GNU_FORMAT)
    started = time.monotonic()
    with pytest.raises(UnsafeBundleError, match="unpacks to more than"):
        extract(bomb, tmp_path, SMALL)
    assert time.monotonic() - started < 30  # generous: only a hang would exceed it


def test_a_2000_level_member_path_is_refused_clearly(tmp_path: Path) -> None:
    deep = one_member("a/" * 2000 + "x.json", tarfile.PAX_FORMAT)
    with pytest.raises(UnsafeBundleError, match="is 2001 levels deep"):
        extract(deep, tmp_path)


def victim(cli: Cli) -> Path:
    """A file next to the repo's stores that a path with `..` would reach."""
    path = cli.repo / "victim" / "keep.json"
    path.parent.mkdir()
    path.write_text("{}")
    return path


@pytest.mark.parametrize("args", [
    ("extension", "pull", "../../victim"),
    ("extension", "pull", "@stress/../../victim"),
    ("extension", "pull", "@stress/beta@../../x"),
    ("extension", "rm", "--force", "../../victim"),
    ("extension", "update", "../../victim"),
])
def test_dotdot_in_an_extension_name_is_refused(cli: Cli, args: tuple[str, ...]) -> None:
    kept = victim(cli)
    err = cli.fails(*args)
    assert err.startswith(("invalid extension name", "invalid version")), err
    assert "Traceback" not in err
    assert kept.exists()


def plant_in_lockfile(cli: Cli, path: str) -> None:
    lockfile = cli.repo / "extensions/models/upstream_extensions.json"
    entries = json.loads(lockfile.read_text())
    entries["@stress/beta"]["files"].append(path)
    lockfile.write_text(json.dumps(entries))


@pytest.mark.parametrize("op", [("rm", "@stress/beta"), ("pull", "@stress/beta")])
def test_dotdot_in_a_lockfile_files_entry_is_refused_before_any_change(
    cli: Cli, op: tuple[str, str]
) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    kept = victim(cli)
    plant_in_lockfile(cli, "../../victim/keep.json")
    before = (cli.repo / "extensions/models/upstream_extensions.json").read_text()
    err = cli.fails("extension", *op)
    assert ("upstream_extensions.json: @stress/beta files[] holds '../../victim/keep.json': "
            "'..' in the path; refusing to touch it") in err
    assert kept.read_text() == "{}"
    assert (cli.repo / "extensions/models/upstream_extensions.json").read_text() == before


def test_a_2000_level_lockfile_path_is_refused_clearly(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    plant_in_lockfile(cli, "@stress/beta/" + "a/" * 2000 + "x.json")
    err = cli.fails("extension", "rm", "@stress/beta")
    assert "levels deep (at most 32)" in err and "Traceback" not in err


def nest(top: Path, levels: int) -> None:
    """`top/a/a/.../a`, `levels` deep, or (negative) remove it again, from the bottom up:
    too deep for a path (PATH_MAX) and for shutil.rmtree's recursion, pytest's included."""
    here = os.getcwd()
    os.chdir(top)
    try:
        for _ in range(levels):
            os.mkdir("a")
            os.chdir("a")
        if levels < 0:
            depth = 0
            while os.path.isdir("a"):
                os.chdir("a")
                depth += 1
            for _ in range(depth):
                os.chdir("..")
                os.rmdir("a")
    finally:
        os.chdir(here)


def test_a_planted_2000_level_directory_is_refused_clearly(cli: Cli) -> None:
    cli.ok("extension", "pull", "@stress/beta")
    top = cli.repo / ".swamp/pulled-extensions/@stress/beta"
    nest(top, 2000)
    try:
        done = cli.run("extension", "update")
    finally:
        nest(top, -1)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "pulled-extensions: @stress/beta/a/a/a/a/" in done.stderr
    assert "... is more than 32 levels deep; refusing to walk it" in done.stderr
