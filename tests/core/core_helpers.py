"""Shared helpers of the core tests: scenario files, running, waiting, process checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfiles import watch

from explorer.descendants import proc_stat
from explorer.events import CatalogRow, Event, RunFinished, StoreItem, StoreState, StoreTable
from explorer.runner import Runner, RunOptions
from explorer.scenario import DEFAULT_SCENARIO, load_scenario
from explorer.snapshot import Snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]

def _reference_part(start: str, end: str | None) -> str:
    """A part of the reference scenario's file, so the tests' scenarios declare its stores
    exactly as it does."""
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    begin = text.index(start)
    return text[begin: text.index(end, begin)] + "\n" if end else text[begin:]


# The store invariants (the rest judge the reference ops, which the tests' ops are not).
REFERENCE_INVARIANTS = """invariants = [
    "lockfile_parses",
    "catalog_matches_lockfile",
    "tree_matches_lockfile",
    "no_duplicate_type_error",
]
"""
REFERENCE_STORES = _reference_part("[stores.lockfile]", "\n\n# -- Judging the ops")

LIFECYCLE_HEAD = REFERENCE_INVARIANTS + f"""
command = ["{{python}}", "-m", "lifecycle", "--repo-dir", "{{repo}}"]
timeout = 60
fixtures = '{REPO_ROOT / "fixtures"}'

[env]
PYTHONPATH = "{{fixtures}}"
LIFECYCLE_BUSY_TIMEOUT_MS = "100"
LIFECYCLE_PROFILE = "{{profile}}"
LIFECYCLE_BUGS = "{{bugs}}"

[[services]]
name = "registry"
command = ["{{python}}", "-m", "lifecycle.registry"]
env = {{ PYTHONPATH = "{{fixtures}}" }}
url_env = "LIFECYCLE_REGISTRY_URL"

[[setup]]
label = "init"
args = ["init"]

[reconcile]
label = "update"
args = ["extension", "update"]
""" + REFERENCE_STORES

PARTIAL_TRANSIENT = """
[[transients]]
pattern = 'Install partially applied for (?P<extension>\\S+)'
invariants = ["catalog_matches_lockfile", "tree_matches_lockfile"]
"""


def toml_str(text: str) -> str:
    """A TOML literal string (no escapes); the text must not hold a single quote."""
    assert "'" not in text
    return f"'''{text}'''" if "\n" in text else f"'{text}'"


def python_op(label: str, code: str, *, timeout: float | None = None) -> str:
    extra = f"\ntimeout = {timeout}" if timeout is not None else ""
    return (f'[[ops]]\nlabel = "{label}"\nargv = ["{{python}}", "-c", {toml_str(code)}]'
            f"{extra}\n")


def setup_op(label: str, *args: str) -> str:
    quoted = ", ".join(f'"{a}"' for a in args)
    return f'[[setup]]\nlabel = "{label}"\nargs = [{quoted}]\n'


def write_scenario(directory: Path, name: str, body: str, *, top: str = "") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{top}\n{body}', encoding="utf-8")
    return path


async def run_scenario(
    path: Path | None,
    tmp_path: Path,
    *,
    on_event: Callable[[Event, Runner], None] | None = None,
    **options: object,
) -> tuple[RunFinished, list[Event], Runner]:
    opts = RunOptions(trace_path=tmp_path / "trace.jsonl", **options)  # type: ignore[arg-type]
    runner = Runner(load_scenario(path), opts)
    runner.handle_signals = False
    events: list[Event] = []
    runner.subscribe(events.append)
    if on_event is not None:
        runner.subscribe(lambda event: on_event(event, runner))
    finished = await runner.run()
    return finished, events, runner


def explorer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "explorer", *args]


def explorer_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).strip(
        os.pathsep)
    env.pop("GITHUB_ACTIONS", None)
    return env


def run_explorer(*args: str, cwd: Path, timeout: float = 150,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(explorer_cmd(*args), cwd=cwd, env=env or explorer_env(),
                          capture_output=True, text=True, timeout=timeout)


def pid_alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def wait_on_files(directory: Path, condition: Callable[[], bool], timeout: float = 60) -> bool:
    """Wait (on file events in `directory`, no polling sleep) until `condition` holds;
    whether it did before the timeout."""
    deadline = time.monotonic() + timeout
    if condition():
        return True
    directory.mkdir(parents=True, exist_ok=True)
    for _ in watch(directory, rust_timeout=200, yield_on_timeout=True, debounce=50, step=20):
        if condition():
            return True
        if time.monotonic() > deadline:
            break
    return False


def wait_for_text(path: Path, needles: Sequence[str], timeout: float = 60) -> str:
    """Wait (on file events, no polling sleep) until the file holds every needle."""

    def text() -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    if wait_on_files(path.parent, lambda: all(n in text() for n in needles), timeout):
        return text()
    raise AssertionError(f"{path} never held {needles!r}; it holds {text()[-500:]!r}")


def reference_snapshot(
    lockfile: str | None = None, catalog: Sequence[CatalogRow] = (), files: Sequence[str] = ()
) -> Snapshot:
    """A snapshot of the reference CLI's three stores, as its scenario declares them."""
    columns = ["name", "version", "kind", "type", "bundle_path", "state"]
    rows: list[list[str | int | float | None]] = [
        [getattr(r, c) for c in columns] for r in catalog]
    return Snapshot([
        StoreState("lockfile", "json",
                   [StoreItem(REFERENCE_LOCKFILE, text=lockfile)] if lockfile is not None else []),
        StoreState("catalog", "sqlite", [StoreItem(".swamp/_extension_catalog.db", tables=[
            StoreTable("query", columns, rows)])]),
        StoreState("tree", "tree", [StoreItem(".swamp/pulled-extensions", files=list(files))]),
    ])


REFERENCE_LOCKFILE = "extensions/models/upstream_extensions.json"
# The reference scenario's invariants, as its TOML declares them.
REFERENCE = {inv.name: inv for inv in load_scenario(None).invariants}


PULL_ALPHA, RM_ALPHA = 0, 2  # slots in the default scenario
# The seed's race, scripted: pull alpha extracts its files, rm alpha tombstones the catalog and
# drops the lockfile entry, then the pull writes its entry and indexes its rows.
RACE = [(PULL_ALPHA, "run")] * 2 + [(RM_ALPHA, "run")] * 5 + [(PULL_ALPHA, "run")] * 6


def record_scripted_race(trace: Path) -> Path:
    """One iteration of swamp-w2 under RACE, recorded at `trace`; it fails (exit 1)."""
    import asyncio

    from explorer.scheduling.script import ScriptFactory

    options = RunOptions(seed=4, iterations=1, profile="swamp-w2", trace_path=trace)
    runner = Runner(load_scenario(None), options, scheduler_factory=ScriptFactory(1, RACE))
    runner.handle_signals = False
    finished = asyncio.run(runner.run())
    assert finished.exit_code == 1
    return trace
