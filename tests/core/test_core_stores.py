"""A target that is not the reference CLI: its own stores, the Snapshot API, the archive
policy and symlinks, the environment, the heal in place and carried-over breaks."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from core_helpers import python_op, run_explorer, run_scenario, write_scenario

from explorer.archive import ArchivePolicy, archive_dir, restore_archive
from explorer.events import ChildOutput, IterationFinished, IterationStarted, StateSnapshot
from explorer.rerun import load_recorded, rerun
from explorer.scenario import load_scenario
from explorer.snapshot import Snapshot, read_snapshot
from explorer.stores import StoreSpec
from explorer.trace import TraceReader


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


# -- the Snapshot API on a store layout of its own ----------------------------------------


def make_shop(repo: Path) -> None:
    """An imaginary package manager's state: one manifest per package, an index database."""
    for name, version in (("left-pad", "1.3.0"), ("@acme/ui", "2.0.1")):
        (repo / "pkgs" / name).mkdir(parents=True)
        (repo / "pkgs" / name / "manifest.json").write_text(json.dumps({"version": version}))
        (repo / "pkgs" / name / "index.js").write_text("module.exports = 1\n")
    (repo / "notes.txt").write_text("hello\n")
    conn = sqlite3.connect(repo / "index.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE installed (pkg TEXT, version TEXT)")
    conn.execute("CREATE TABLE meta (k TEXT, v TEXT)")
    conn.executemany("INSERT INTO installed VALUES (?, ?)",
                     [("left-pad", "1.3.0"), ("@acme/ui", "1.0.0")])
    conn.commit()
    conn.close()


SHOP = (
    StoreSpec("manifests", "json", "pkgs/**/manifest.json"),
    StoreSpec("index", "sqlite", "index.db"),
    StoreSpec("packages", "tree", "pkgs"),
    StoreSpec("notes", "text", "notes.txt"),
)


def test_a_plugin_reads_stores_by_name_queries_and_lazy_files(tmp_path: Path) -> None:
    make_shop(tmp_path)
    snap = read_snapshot(tmp_path, SHOP)
    # A glob store holds every file it matched, by path relative to the repo dir.
    assert sorted(snap.jsons("manifests")) == ["pkgs/@acme/ui/manifest.json",
                                              "pkgs/left-pad/manifest.json"]
    # Without a query, a database store records every table, whole.
    assert snap.rows("index", "installed") == [{"pkg": "@acme/ui", "version": "1.0.0"},
                                               {"pkg": "left-pad", "version": "1.3.0"}]
    assert snap.rows("index", "meta") == []
    # Any read-only query, on the database as it was at this snapshot (WAL folded in).
    assert snap.query("index", "SELECT count(*) AS n FROM installed WHERE version > ?",
                      ("1.1",)) == [{"n": 1}]
    assert snap.files("packages")[:2] == ["@acme/ui/index.js", "@acme/ui/manifest.json"]
    assert snap.text("notes") == "hello\n"
    assert snap.read("pkgs/left-pad/index.js") == "module.exports = 1\n"
    assert snap.glob("pkgs/*/index.js") == ["pkgs/left-pad/index.js"]
    assert snap.entity_names() >= {"@acme/ui", "left-pad"}
    with pytest.raises(LookupError, match="no store named 'lockfile'.*index, manifests"):
        snap.text("lockfile")
    with pytest.raises(LookupError, match="not a path inside the repo dir"):
        snap.read("../outside")


def test_the_previous_snapshot_and_unchanged_stores_kept(tmp_path: Path) -> None:
    make_shop(tmp_path)
    first = read_snapshot(tmp_path, SHOP)
    (tmp_path / "notes.txt").write_text("changed\n")
    second = read_snapshot(tmp_path, SHOP, first, changed={"notes"})
    assert second.previous == first and second.previous.previous is None
    assert second.text("notes") == "changed\n" and first.text("notes") == "hello\n"
    assert second.query("index", "SELECT 1 AS one") == [{"one": 1}]  # image carried over
    assert Snapshot.from_event(second.to_event(t=0, iteration=1, phase="live")) == second


PLUGIN = '''
def versions_agree(snapshot, outputs):
    """Each package's manifest and the index agree on its version."""
    index = {r["pkg"]: r["version"] for r in snapshot.rows("index", "installed")}
    for path, manifest in snapshot.jsons("manifests").items():
        name = path[len("pkgs/"):-len("/manifest.json")]
        if index.get(name) != manifest["version"]:
            yield name, f"{name}: manifest says {manifest['version']}, index {index.get(name)}"
'''


async def test_a_plugin_invariant_on_a_target_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "shop_checks.py").write_text(PLUGIN)
    setup = python_op("make the shop", f"from pathlib import Path; import sys; "
                      f"sys.path.insert(0, {json.dumps(str(Path(__file__).parent))}); "
                      'from test_core_stores import make_shop; make_shop(Path("."))')
    body = ('invariants = ["shop_checks:versions_agree"]\n'
            + setup.replace("[[ops]]", "[[setup]]") + python_op("idle", "pass")
            + "".join(f'[stores.{s.name}]\nkind = "{s.kind}"\npath = "{s.path}"\n'
                      for s in SHOP))
    path = write_scenario(tmp_path, "shop", body, top="iterations = 1")
    finished, events, _ = await run_scenario(path, tmp_path)
    [it1] = [f for f in of(events, IterationFinished) if f.iteration == 1]
    [brk] = it1.breaks
    assert (brk.invariant, brk.extension) == ("versions_agree", "@acme/ui")
    assert brk.message == "@acme/ui: manifest says 2.0.1, index 1.0.0"
    assert brk.first_seen == 0 and brk.classification == "persistent"  # from the setup on
    start = [s for s in of(events, StateSnapshot) if s.phase == "start" and s.iteration == 1]
    assert [s.name for s in start[0].stores] == ["manifests", "index", "packages", "notes"]


# -- the archive: policy and symlinks -----------------------------------------------------


def make_links(repo: Path) -> None:
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "real.txt").write_text("real")
    (repo / "abs-inside").symlink_to(repo / "data" / "real.txt")  # absolute, inside
    (repo / "rel-inside").symlink_to("data/real.txt")
    (repo / "dir-link").symlink_to(repo / "data")  # to a dir: a link, never walked
    (repo / "outside").symlink_to("/etc/hostname")


def test_symlinks_round_trip_into_another_dir_never_followed(tmp_path: Path) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    make_links(repo)
    restore_archive(archive_dir(repo), elsewhere)
    assert os.readlink(elsewhere / "abs-inside") == str(elsewhere / "data" / "real.txt")
    assert os.readlink(elsewhere / "rel-inside") == "data/real.txt"
    assert os.readlink(elsewhere / "dir-link") == str(elsewhere / "data")
    assert os.readlink(elsewhere / "outside") == "/etc/hostname"  # stored as a link
    assert (elsewhere / "abs-inside").read_text() == "real"
    # Back at the same path, the absolute link is exactly what it was.
    restore_archive(archive_dir(repo), repo, replace=True)
    assert os.readlink(repo / "abs-inside") == str(repo / "data" / "real.txt")


def test_exclude_keeps_tooling_out_and_a_replace_leaves_it_alone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "node_modules" / "big").mkdir(parents=True)
    (repo / "node_modules" / "big" / "blob").write_bytes(os.urandom(2_000_000))
    (repo / "state.json").write_text("{}")
    policy = ArchivePolicy(exclude=("node_modules",))
    whole, small = archive_dir(repo), archive_dir(repo, policy)
    assert len(whole) > 2_000_000 and len(small) < 2_000  # base64 of a few hundred bytes
    (repo / "state.json").write_text('{"changed": 1}')
    (repo / "new.txt").write_text("made after the archive")
    restore_archive(small, repo, policy, replace=True)
    assert (repo / "state.json").read_text() == "{}" and not (repo / "new.txt").exists()
    assert (repo / "node_modules" / "big" / "blob").stat().st_size == 2_000_000


TOOLING = ('import os; os.makedirs("tools", exist_ok=True); '
           'open("tools/blob", "wb").write(os.urandom(1_000_000)); '
           'os.symlink(os.path.abspath("tools"), "tools-link")')


async def test_rerun_restores_a_tree_with_internal_absolute_links(tmp_path: Path) -> None:
    """With `exclude`, an iteration's archive stays small; the rerun rebuilds the excluded
    tooling with the setup, restores the rest over it, links included."""
    body = (python_op("make tooling", TOOLING).replace("[[ops]]", "[[setup]]")
            + python_op("check the link", 'import os; print(os.readlink("tools-link"))')
            + '[archive]\nexclude = ["tools"]\n')
    scenario = write_scenario(tmp_path, "links", body, top="iterations = 2")
    trace = tmp_path / "links.jsonl"
    run = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                       cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "archive an iteration" in run.stdout
    lines = [json.loads(line) for line in trace.read_text().splitlines()[1:]]
    sizes = [e["archive_bytes"] for e in lines
             if e["kind"] == "iteration_started" and e["block"] == "iteration"]
    assert sizes and max(sizes) < 100_000
    recorded = load_recorded(TraceReader(trace), 1)
    outcome = await rerun(recorded, load_scenario(scenario), tmp_path / "rerun.jsonl")
    assert outcome.failing == [] and outcome.divergences == []
    reran = [json.loads(line) for line in outcome.trace.read_text().splitlines()[1:]]
    exits = [e["returncode"] for e in reran if e["kind"] == "child_exited"]
    assert exits == [0, 0, 0], reran  # setup, restore, the op
    [printed] = [e["line"] for e in reran if e["kind"] == "child_output"
                 and e["iteration"] == 1]
    repo = next(e["repo_dir"] for e in reran if e["kind"] == "run_started")
    assert printed == f"{repo}/tools"  # the absolute link points into the rerun's repo dir


# -- the environment ----------------------------------------------------------------------


async def test_env_unset_inherit_allow_list_and_env_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RX_KEEP", "kept")
    monkeypatch.setenv("RX_DROP", "machine setting")
    monkeypatch.setenv("RX_SOURCE", "from the explorer")
    show = ('import os; print(sorted(k for k in os.environ if k.startswith("RX_")), '
            'os.environ.get("RX_COPY"))')
    body = ('inherit_env = ["RX_KEEP", "RX_DROP", "PATH"]\n'
            '[env]\nRX_DROP = false\nRX_COPY = "{env:RX_SOURCE}"\n' + python_op("env", show))
    path = write_scenario(tmp_path, "env", body, top="iterations = 1")
    _, events, _ = await run_scenario(path, tmp_path)
    [line] = [e.line for e in of(events, ChildOutput) if e.iteration == 1]
    # RX_SOURCE is not on the allow list, RX_DROP is unset; RX_COPY took RX_SOURCE's value.
    assert line == "['RX_COPY', 'RX_KEEP'] from the explorer"


# -- heal in place, carried-over breaks ---------------------------------------------------

# The reconcile writes where it ran; the check wants the real repo dir's path in there.
HEAL = '''
def reconciled_here(snapshot, outputs):
    marker = snapshot.text("marker")
    if marker is None:
        yield "bad", "broken: not reconciled"
    elif marker != str(snapshot.repo):
        yield "bad", f"reconciled at {marker}, not at {snapshot.repo}"
'''


async def test_the_heal_runs_in_the_real_repo_dir_and_puts_it_back(tmp_path: Path) -> None:
    (tmp_path / "heal_checks.py").write_text(HEAL)
    mark = 'import os; open("marker", "w").write(os.getcwd())'
    body = ('invariants = ["heal_checks:reconciled_here"]\n'
            + python_op("mark", mark).replace("[[ops]]", "[[setup]]")
            + python_op("break it", 'import os; os.path.exists("marker") and os.remove("marker")')
            + f"[reconcile]\nargv = [\"{{python}}\", \"-c\", '{mark}']\n"
            + '[stores.marker]\nkind = "text"\npath = "marker"\n')
    path = write_scenario(tmp_path, "heal", body, top="iterations = 2")
    finished, events, runner = await run_scenario(path, tmp_path)
    iterations = [f for f in of(events, IterationFinished) if f.iteration in (1, 2)]
    [brk1] = iterations[0].breaks
    assert brk1.classification == "healed"  # the reconcile ran at the real path
    [brk2] = iterations[1].breaks  # the heal put the dir back: still broken, one incident
    assert (brk2.classification, brk2.first_seen) == ("healed", 1)
    assert finished.counts["healed"] == 1
    final = [s for s in of(events, StateSnapshot) if s.phase == "final"]
    assert final[0].stores[0].items[0].text == str(runner.repo_dir)


TOLERATE = '''
def stamp_missing(snapshot, outputs):
    if snapshot.text("stamp") is None:
        yield "pkg", "pkg: no stamp"

def lock_left(snapshot, outputs):
    if snapshot.text("lock") is not None:
        yield "pkg", "pkg: a lock was left behind"
'''


async def test_a_carried_tolerated_break_excuses_no_new_break_of_its_entity(
    tmp_path: Path,
) -> None:
    """Iteration 1 leaves a tolerated break on `pkg`; iteration 2 breaks another invariant
    on `pkg`: that one is new, and nothing excuses it."""
    (tmp_path / "tolerate_checks.py").write_text(TOLERATE)
    op = ('import os\n'
          'if os.path.exists("stamp"): os.remove("stamp"); print("partial for pkg")\n'
          'else: open("lock", "w").write("")')
    body = ('invariants = ["tolerate_checks:stamp_missing", "tolerate_checks:lock_left"]\n'
            + python_op("stamp", 'open("stamp", "w").write("")').replace("[[ops]]", "[[setup]]")
            + python_op("op", op)
            + "[[transients]]\npattern = 'partial for (?P<extension>\\S+)'\n"
            + 'invariants = ["stamp_missing"]\n'
            + '[stores.stamp]\nkind = "text"\npath = "stamp"\n'
            + '[stores.lock]\nkind = "text"\npath = "lock"\n')
    path = write_scenario(tmp_path, "carry", body, top="iterations = 2")
    finished, events, _ = await run_scenario(path, tmp_path)
    by = {f.iteration: f for f in of(events, IterationFinished)}
    assert [(b.invariant, b.classification, b.first_seen) for b in by[1].breaks] == [
        ("stamp_missing", "tolerated", None)]
    assert sorted((b.invariant, b.classification, b.first_seen) for b in by[2].breaks) == [
        ("lock_left", "persistent", None), ("stamp_missing", "tolerated", 1)]
    assert by[2].verdict == "failed"
    # Each incident counted once: stamp_missing, tolerated until the final check (nothing
    # repaired it), then persistent; lock_left persistent.
    assert (finished.counts["tolerated"], finished.counts["persistent"]) == (0, 2)
    started = [e for e in of(events, IterationStarted) if e.block == "iteration"]
    assert all(e.archive_bytes for e in started)
