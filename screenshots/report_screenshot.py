"""Render the README's picture of the HTML report: `race-explorer report` on the recorded run
in screenshots/trace.jsonl, loaded by Debian's chromium headless, offline.

    python screenshots/report_screenshot.py    # writes screenshots/report.png
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]

from explorer.report import write_report  # noqa: E402

TRACE = HERE / "trace.jsonl"
WINDOW = (1400, 2200)


def chromium_argv(profile: Path, *what: str) -> list[str]:
    """Headless chromium with nothing reaching out to the network on its own."""
    browser = shutil.which("chromium") or "chromium"
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", *what]


def screenshot(page: Path, png: Path, window: tuple[int, int] = WINDOW) -> None:
    with tempfile.TemporaryDirectory(prefix="race-explorer-chromium-") as profile:
        subprocess.run(chromium_argv(Path(profile), f"--window-size={window[0]},{window[1]}",
                                     f"--screenshot={png}", page.absolute().as_uri()),
                       check=True, capture_output=True, timeout=120)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="race-explorer-report-") as tmp:
        page = Path(tmp) / "report.html"
        write_report(page, [TRACE])
        screenshot(page, HERE / "report.png")
    print(f"wrote {HERE / 'report.png'}")


if __name__ == "__main__":
    main()
