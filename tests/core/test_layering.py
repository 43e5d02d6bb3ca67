"""The import contract: which room of explorer/ may import which (README, "Layout").

Read from the source with ast, every import counted wherever it stands (inside
a function or under TYPE_CHECKING too), so an arrow against the layering fails
here before it tangles the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import explorer

PACKAGE = Path(explorer.__file__).parent

# Each room of the core, lowest first; a room may import itself and the rooms before it.
ROOMS: dict[str, tuple[str, ...]] = {
    "seam": ("events", "event_json", "schema", "vocabulary", "visible"),
    "scheduling": ("scheduling", "intercept"),
    "parts": ("confine", "stores", "archive", "snapshot", "store_views", "invariants",
              "outcomes", "serial", "registry", "classify", "scenario_keys", "scenario_values",
              "scenario_checks", "scenario", "watch", "descendants", "children", "control",
              "trace_index", "trace"),
    "runner": ("request", "runner", "block", "expansion", "services", "launcher", "observer",
               "judge", "healer", "edges", "signals", "shard", "workdir"),
    "faces": ("headless", "account", "junit", "serve", "rerun", "shrink", "restore", "merge",
              "cli", "cli_base", "cli_traces", "__main__", "why", "failures", "report"),
}
ORDER = list(ROOMS)
# The one arrow from the core to the app: the command line loads it when asked for it.
APP_LOADERS = {"explorer.cli_base"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str | None:
    if module == "explorer":
        return "seam"  # the package itself holds only its version
    top = module.split(".")[1]
    return next((room for room, names in ROOMS.items() if top in names), None)


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, at module level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "explorer":  # from explorer import tui
                names = [f"explorer.{alias.name}" for alias in node.names]
        found += [(name, node.lineno, id(node) in top_level) for name in names]
    return found


CORE = [p for p in sorted(PACKAGE.rglob("*.py")) if PACKAGE / "tui" not in p.parents]
EVERY = sorted(PACKAGE.rglob("*.py"))


def test_every_core_module_has_a_room() -> None:
    homeless = [module_name(p) for p in CORE if room_of(module_name(p)) is None]
    assert not homeless, f"add these to a room in ROOMS and the README's Layout: {homeless}"


@pytest.mark.parametrize("path", CORE, ids=lambda p: module_name(p))
def test_a_core_module_imports_only_its_room_and_the_rooms_below(path: Path) -> None:
    me = module_name(path)
    mine = room_of(me)
    assert mine is not None
    wrong = []
    for name, line, _ in imports(path):
        if name.split(".")[0] != "explorer" or name.startswith("explorer.tui"):
            continue
        theirs = room_of(name)
        if theirs is None or ORDER.index(theirs) > ORDER.index(mine):
            wrong.append(f"line {line}: {name} ({theirs}) from the {mine} room")
    assert not wrong, f"{me}: {wrong}"


@pytest.mark.parametrize("path", CORE, ids=lambda p: module_name(p))
def test_the_core_never_imports_the_app_or_textual(path: Path) -> None:
    me = module_name(path)
    for name, line, top in imports(path):
        assert name.split(".")[0] != "textual", f"{me}:{line} imports {name}"
        if name.startswith("explorer.tui"):
            assert me in APP_LOADERS and not top, (
                f"{me}:{line} imports {name}: only the command line loads the app, when asked")


@pytest.mark.parametrize("path", EVERY, ids=lambda p: module_name(p))
def test_nothing_in_the_package_imports_the_reference_target(path: Path) -> None:
    # The reference CLI and its registry live in fixtures/; a scenario names them.
    offenders = [(n, line) for n, line, _ in imports(path) if n.split(".")[0] == "lifecycle"]
    assert not offenders, f"{module_name(path)} imports the reference target: {offenders}"


def test_the_classifier_does_not_import_the_scenario() -> None:
    names = {name for name, _, _ in imports(PACKAGE / "classify.py")}
    assert "explorer.scenario" not in names and "explorer.scenario_keys" not in names


def test_the_contract_catches_an_arrow_against_it(tmp_path: Path) -> None:
    # The reader this test relies on sees a lazy import inside a function.
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from explorer.tui import app\n    import textual\n")
    assert [(n, top) for n, _, top in imports(probe)] == [
        ("explorer.tui", False), ("textual", False)]
