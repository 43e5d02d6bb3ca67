"""`race-explorer report`: one self-contained HTML file, loaded by a real browser (chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from screenshots.report_screenshot import chromium_argv, screenshot
from tests.core.core_helpers import run_explorer

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="Debian's chromium is not installed (.ci/run does)")


@pytest.fixture(scope="module")
def page(race_trace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = run_explorer("report", str(race_trace), "-o", str(out), cwd=out.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    return out


def test_the_page_needs_nothing_from_outside(page: Path) -> None:
    source = page.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)\b", source)
    assert not re.search(r"\b(src|href)\s*=|url\(|@import", source)


@needs_chromium
def test_a_browser_shows_the_summary_the_kinds_the_why_and_the_swimlane(
    page: Path, race_trace: Path, tmp_path: Path
) -> None:
    shown = subprocess.run(chromium_argv(tmp_path / "profile", "--dump-dom", page.as_uri()),
                           capture_output=True, text=True, timeout=120, check=True).stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown))
    assert "race-explorer: default" in text
    assert "1 iterations of 4 children; strategy script, seed 4, profile swamp-w2" in text
    # the race's break (the orphan row the final reconcile drops is its repair, not evidence)
    assert "Failures: 1 of 1 kind(s)" in text
    assert "no_orphans_swept" not in text.split("invariants:")[-1]
    assert ("catalog_matches_lockfile [healed] the catalog indexes NAME@V but the lockfile has "
            "no entry for NAME") in text
    assert f"replay {race_trace} --iteration 1 --rerun" in text
    # the why: who touched alpha, and the step that broke it
    assert ("@stress/alpha : the children that touched it: child 0 (pull @stress/alpha@1.0.0), "
            "child 2 (rm @stress/alpha)") in text
    assert re.search(r"<tr class=\"broke\"><td class=\"lane\">\d+</td><td class=\"lane\">child 2 "
                     r"\(rm @stress/alpha\) lockfile-writing → lockfile-written", shown)
    assert "lockfile 2.0.0 (2 files) → no entry" in text
    # the swimlane: a lane per child, and the step numbers in order
    for lane in ("child 0 pull @stress/alpha@1.0.0", "child 1 pull @stress/beta",
                 "child 2 rm @stress/alpha", "child 3 update"):
        assert lane in text
    assert "store changes" in text and "✗ catalog_matches_lockfile" in text


@needs_chromium
def test_the_browser_draws_it(page: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    screenshot(page, png, (1200, 900))
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000  # a drawn page, not a blank one


def test_report_of_something_that_is_not_a_trace(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    done = run_explorer("report", str(bad), "-o", str(tmp_path / "r.html"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"race-explorer: {bad}: not a race-explorer trace (bad header)"
    assert not (tmp_path / "r.html").exists()
