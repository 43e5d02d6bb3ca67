"""The swamp fixture registry, as the real CLI meets it: a process on 127.0.0.1 that
prints its URL first, answering the four install-path endpoints over real HTTP."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WAIT = 10.0
ALPHA = "%40stress%2Falpha"  # the CLI percent-encodes the name (encodeURIComponent)
BETA = "%40stress%2Fbeta"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # let the 302 through as an HTTPError, as swamp's redirect: "manual"


def get(url: str, *, follow: bool = True) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(*([] if follow else [_NoRedirect()]))
    try:
        with opener.open(url, timeout=WAIT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str) -> dict[str, object]:
    status, _, body = get(url)
    assert status == 200, url
    data = json.loads(body)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    with started_registry() as url:
        yield url


@contextlib.contextmanager
def started_registry() -> Iterator[str]:
    """`python -m swamp.registry` as the scenario starts it; stopped by its pid."""
    env = {**os.environ, "PYTHONPATH": str(FIXTURES)}
    proc = subprocess.Popen([sys.executable, "-m", "swamp.registry"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(WAIT)


def test_extension_info_advertises_alphas_second_version_as_latest(registry_url: str) -> None:
    base = f"{registry_url}/api/v1/extensions"
    alpha = get_json(f"{base}/{ALPHA}")
    assert (alpha["name"], alpha["latestVersion"]) == ("@stress/alpha", "2026.05.05.2")
    assert get_json(f"{base}/{BETA}")["latestVersion"] == "2026.05.05.1"
    latest = get_json(f"{base}/{ALPHA}/latest")
    assert latest["latestVersion"] == "2026.05.05.2"
    assert latest["latestVersionDetail"] == {"version": "2026.05.05.2",
                                             "publishedAt": "2026-05-05T00:00:00Z"}


def test_download_redirects_to_the_raw_bundle_whose_checksum_the_registry_reports(
    registry_url: str,
) -> None:
    base = f"{registry_url}/api/v1/extensions"
    for name, version in ((ALPHA, "2026.05.05.1"), (ALPHA, "2026.05.05.2"),
                          (BETA, "2026.05.05.1")):
        status, headers, _ = get(f"{base}/{name}@{version}/download", follow=False)
        assert status == 302
        location = headers["Location"]
        # swamp fetches the Location as it is: it must be absolute.
        assert location == f"{registry_url}/raw-bundle/{name}@{version}"
        status, headers, bundle = get(location)
        assert status == 200 and headers["Content-Type"] == "application/gzip"
        checksum = get_json(f"{base}/{name}@{version}/checksum")["checksum"]
        assert checksum == hashlib.sha256(bundle).hexdigest()


def bundle_files(bundle: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle))) as tar:
        return {m.name: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def test_bundles_hold_a_manifest_and_one_model_of_a_type_per_extension(
    registry_url: str,
) -> None:
    types = {}
    for name, version in ((ALPHA, "2026.05.05.2"), (BETA, "2026.05.05.1")):
        _, _, bundle = get(f"{registry_url}/raw-bundle/{name}@{version}")
        files = bundle_files(bundle)
        assert sorted(files) == ["extension/manifest.yaml", "extension/models/noop.ts"]
        manifest = files["extension/manifest.yaml"]
        assert "manifestVersion: 1" in manifest and f'version: "{version}"' in manifest
        assert 'models:\n  - "noop.ts"' in manifest
        types[name] = files["extension/models/noop.ts"].split('type: "')[1].split('"')[0]
    assert types == {ALPHA: "@stress/alpha-model", BETA: "@stress/beta-model"}


@pytest.mark.parametrize("path", [
    "/api/v1/extensions/%40stress%2Fzeta",                      # unknown extension
    "/api/v1/extensions/%40stress%2Fzeta/latest",
    "/api/v1/extensions/%40stress%2Fbeta@2026.05.05.2/download",  # unknown version
    "/api/v1/extensions/%40stress%2Fbeta@2026.05.05.2/checksum",
    "/api/v1/extensions/%40stress%2Fbeta/checksum",               # checksum needs a version
    "/raw-bundle/%40stress%2Falpha@9",
    "/api/v1/extensions/search",
    "/",
])
def test_anything_else_is_a_404(registry_url: str, path: str) -> None:
    assert get(f"{registry_url}{path}", follow=False)[0] == 404


def checksums(url: str) -> list[object]:
    base = f"{url}/api/v1/extensions"
    return [get_json(f"{base}/{name}@{version}/checksum")["checksum"]
            for name, version in ((ALPHA, "2026.05.05.1"), (ALPHA, "2026.05.05.2"),
                                  (BETA, "2026.05.05.1"))]


def test_two_starts_build_the_same_bundles(registry_url: str) -> None:
    first = checksums(registry_url)
    with started_registry() as other:
        assert other != registry_url
        assert checksums(other) == first
    assert len(set(first)) == 3  # and three different bundles
