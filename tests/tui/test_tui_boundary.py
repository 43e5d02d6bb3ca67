"""Only explorer/tui may import textual: the headless path must never need the UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import explorer

PACKAGE = Path(explorer.__file__).parent
# Pure parts of the app package: the view model is tested without a terminal.
PURE_TUI = ("explorer.tui", "explorer.tui.model", "explorer.tui.state_view", "explorer.tui.history",
            "explorer.tui.trace_history")


# The source-level rule (no import of textual outside explorer/tui) is test_layering's;
# this one checks what importing the core really loads.
def test_importing_every_core_module_loads_no_textual() -> None:
    code = f"""
import importlib, pkgutil, sys
import explorer
names = []
for info in pkgutil.walk_packages(explorer.__path__, "explorer."):
    name = info.name
    ui = name.startswith("explorer.tui") and name not in {PURE_TUI!r}
    if ui or name == "explorer.__main__":
        continue
    importlib.import_module(name)
    names.append(name)
assert "textual" not in sys.modules, [m for m in sys.modules if m.startswith("textual")]
print(" ".join(names))
"""
    root = PACKAGE.parent
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": f"{root}:{root / 'fixtures'}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    imported = done.stdout.split()
    assert {"explorer.events", "explorer.tui.model", "explorer.tui.history",
            "explorer.tui.trace_history"} <= set(imported)
    assert any(name in imported for name in ("explorer.runner", "explorer.cli"))
