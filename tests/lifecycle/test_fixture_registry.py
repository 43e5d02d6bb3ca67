"""The fixture registry's four endpoints, its deterministic bundles, and its CLI."""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from lifecycle.bundles import all_releases, source_releases
from lifecycle.registry import RegistryServer, serve_registry
from lifecycle_harness import FIXTURES, WAIT


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> dict[str, object]:
    status, body = get(url)
    assert status == 200, url
    data = json.loads(body)
    assert isinstance(data, dict)
    return data


def test_name_and_latest_report_the_newest_version(registry: RegistryServer) -> None:
    base = f"{registry.url}/api/v1/extensions"
    info = get_json(f"{base}/@stress/alpha")
    assert info["name"] == "@stress/alpha" and info["latestVersion"] == "2.0.0"
    assert info["description"]
    latest = get_json(f"{base}/@stress/alpha/latest")
    assert latest["latestVersion"] == "2.0.0"
    assert get_json(f"{base}/@stress/beta/latest")["latestVersion"] == "1.0.0"


def test_download_redirects_to_a_bundle_matching_its_checksum(registry: RegistryServer) -> None:
    base = f"{registry.url}/api/v1/extensions/@stress/alpha@1.0.0"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{base}/download", timeout=WAIT)
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == "/bundles/@stress/alpha@1.0.0.tar.gz"
    status, bundle = get(f"{base}/download")
    assert status == 200
    assert hashlib.sha256(bundle).hexdigest() == get_json(f"{base}/checksum")["checksum"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/extensions/@stress/nope",
        "/api/v1/extensions/@stress/nope/latest",
        "/api/v1/extensions/@stress/alpha@9.9.9/download",
        "/api/v1/extensions/@stress/alpha@9.9.9/checksum",
        "/bundles/@stress/alpha@9.9.9.tar.gz",
        "/elsewhere",
    ],
)
def test_anything_unknown_is_a_404(registry: RegistryServer, path: str) -> None:
    assert get(registry.url + path)[0] == 404


def test_bundles_are_byte_for_byte_reproducible() -> None:
    first = {(r.name, r.version): r.checksum for r in source_releases()}
    second = {(r.name, r.version): r.checksum for r in source_releases()}
    assert first == second
    assert set(first) == {
        ("@stress/alpha", "1.0.0"),
        ("@stress/alpha", "2.0.0"),
        ("@stress/beta", "1.0.0"),
        ("@stress/gamma", "1.0.0"),
    }
    assert len(set(first.values())) == 4
    assert {"@hostile/absolute", "@hostile/dotdot", "@hostile/symlink"} <= all_releases().keys()


def test_serve_registry_closes_its_port() -> None:
    server = serve_registry()
    assert server.url.startswith("http://127.0.0.1:")
    assert get(f"{server.url}/api/v1/extensions/@stress/beta")[0] == 200
    server.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.url}/api/v1/extensions/@stress/beta", timeout=WAIT)


def test_the_module_prints_its_url_first_and_serves_until_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(FIXTURES)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lifecycle.registry"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=WAIT), "no URL line"
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert get_json(f"{url}/api/v1/extensions/@stress/beta")["latestVersion"] == "1.0.0"
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
