from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle.layout import Layout
from lifecycle.ops import init
from lifecycle.registry import RegistryServer, serve_registry
from lifecycle_harness import Cli, Conductor


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryServer]:
    with serve_registry() as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, registry: RegistryServer) -> Cli:
    bound = Cli(tmp_path / "repo", registry.url)
    init(Layout(bound.repo))  # in-process: the CLI's own init is tested on its own
    return bound


@pytest.fixture
def conductor() -> Iterator[Conductor]:
    # Unix socket paths are short-lived and length-limited: keep them out of tmp_path.
    with tempfile.TemporaryDirectory(prefix="lc-") as directory:
        conducting = Conductor(str(Path(directory) / "cp.sock"))
        yield conducting
        conducting.close()
