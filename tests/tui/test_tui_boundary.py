"""Only explorer/tui may import textual: the headless path must never need the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import explorer

PACKAGE = Path(explorer.__file__).parent
# Pure parts of the app package: the view model is tested without a terminal.
PURE_TUI = ("explorer.tui", "explorer.tui.model", "explorer.tui.state_view", "explorer.tui.history")


def test_no_module_outside_tui_mentions_textual_in_an_import() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if PACKAGE / "tui" in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path}:{node.lineno}" for n in names if n.split(".")[0] == "textual"]
    assert not offenders, f"textual imported outside explorer/tui: {offenders}"


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
    assert {"explorer.events", "explorer.tui.model", "explorer.tui.history"} <= set(imported)
    assert any(name in imported for name in ("explorer.runner", "explorer.cli"))
