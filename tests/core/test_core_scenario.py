"""Scenario loading: the default is the seed's; a bad file names file, key and expectation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from core_helpers import REPO_ROOT, run_explorer

from explorer.scenario import load_scenario
from explorer.scenario_keys import reference
from explorer.scenario_values import ScenarioError, expand

MINIMAL = '[[ops]]\nargv = ["{python}", "-c", "pass"]\n'
LOCKFILE_STORE = '[stores.lockfile]\nkind = "json"\npath = "state.json"\n'


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def test_default_scenario_is_the_seeds() -> None:
    s = load_scenario(None)
    assert s.iterations == 50 and s.concurrency == 4
    assert [op.label for op in s.ops] == [
        "pull @stress/alpha@1.0.0", "pull @stress/beta", "rm @stress/alpha", "update"]
    assert [c.argv[-1] for c in s.setup] == ["init", "@stress/alpha@1.0.0", "@stress/beta"]
    assert s.reconcile is not None and s.reconcile.argv[-2:] == ("extension", "update")
    assert [i.name for i in s.invariants] == [
        "lockfile_parses", "catalog_matches_lockfile", "tree_matches_lockfile",
        "no_duplicate_type_error", "no_lock_exhaustion", "children_succeed", "no_orphans_swept",
        "serializable"]
    assert s.fixtures == REPO_ROOT / "fixtures" and (s.fixtures / "lifecycle").is_dir()
    [transient] = s.transients
    match = transient.pattern.search(
        "Install partially applied for @stress/beta — files extracted but the catalog write "
        "failed (database is locked); retry to reconcile")
    assert match is not None and match["extension"] == "@stress/beta"
    assert transient.tolerates("catalog_matches_lockfile")
    assert not transient.tolerates("no_lock_exhaustion")


def test_placeholders_expand_and_other_braces_stay() -> None:
    s = load_scenario(None)
    values = s.placeholders(sys.executable, Path("/r"), Path("/w"))
    assert expand(s.ops[0].argv[0], values) == sys.executable
    assert expand(s.ops[0].argv[4], values) == "/r"
    assert expand('print({"a": 1}) {repo}', values) == 'print({"a": 1}) /r'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "iteration = 3\n", "iteration: unknown key (expected one of"),
        ("iterations = 3\n" + MINIMAL.replace("argv", "argz"), "ops[0].argz: unknown key"),
        ('iterations = "many"\n' + MINIMAL, "iterations: expected an integer >= 0, got 'many'"),
        ("timeout = -1\n" + MINIMAL, "timeout: expected a number >= 0.001, got -1"),
        ("iterations = 3\n", "ops: expected at least one [[ops]] table"),
        ('[[ops]]\nargv = "python -c pass"\n', "ops[0].argv: expected a non-empty list of strings"),
        ('[[ops]]\nargs = ["x"]\n', "ops[0].args: expected a top-level `command` to append to"),
        ('invariants = ["lockfile_parses", "no_such_check"]\n' + MINIMAL + LOCKFILE_STORE,
         "invariants[1]: expected a built-in invariant (lockfile_parses, catalog_matches_lockfile"),
        ('invariants = ["no_such_module_xyz:check"]\n' + MINIMAL,
         "invariants[0]: expected an importable module:function plugin"),
        ('[[ops]]\nargv = ["{pyhton}", "-c", "pass"]\n',
         "ops[0].argv[0]: expected placeholders among {bugs}, {fixtures}, {profile}, {python}, "
         "{repo}, {work} or {env:NAME}"),
        (MINIMAL + "[[transients]]\npattern = '(unclosed'\n",
         "transients[0].pattern: expected a regular expression"),
        (MINIMAL + '[[transients]]\npattern = "x"\ninvariants = ["nope"]\n',
         "transients[0].invariants[0]: expected one of the scenario's invariants"),
        (MINIMAL + '[[services]]\nname = "reg"\nbuiltin = "nginx"\n',
         "services[0].builtin: unknown key (expected one of: command, env, name, "
         "start_timeout, url_env)"),
        (MINIMAL + '[[services]]\nname = "reg"\n', "services[0].command: expected a non-empty "
         "list of strings"),
        (MINIMAL + '[[services]]\nname = "repo"\ncommand = ["x"]\n',
         "services[0].name: expected an identifier other than python, repo"),
        ('concurrency = 0\n' + MINIMAL, "concurrency: expected an integer >= 1, got 0"),
        (MINIMAL.replace("argv", 'args = []\nargv'), "ops[0]: expected exactly one of `argv`"),
        (MINIMAL + '[stores.db]\nkind = "sqlite"\npaht = "x.db"\n', "stores.db.paht: unknown key"),
        ("iterations = [\n", "not valid TOML"),
        # Values of the right type that validation once let through (issue 10, item 5).
        ("timeout = nan\n" + MINIMAL, "timeout: expected a number >= 0.001, got nan"),
        ("timeout = inf\n" + MINIMAL, "timeout: expected a number >= 0.001, got inf"),
        ("timeout = -inf\n" + MINIMAL, "timeout: expected a number >= 0.001, got -inf"),
        (MINIMAL + "timeout = nan\n", "ops[0].timeout: expected a number >= 0.001, got nan"),
        ("iterations = 1\n" + MINIMAL + '[[services]]\nname = "reg"\ncommand = ["x"]\n'
         "start_timeout = inf\n", "services[0].start_timeout: expected a number >= 0.001"),
        (MINIMAL + '[stores.db]\nkind = "json"\npath = "/etc/passwd"\n',
         "stores.db.path: expected a relative path inside the repo dir (no leading /, no .. "
         "above it), got '/etc/passwd'"),
        (MINIMAL + '[stores.db]\nkind = "tree"\npath = "../../"\n', "stores.db.path: expected "
         "a relative path inside the repo dir"),
        (MINIMAL + '[stores.db]\nkind = "sqlite"\npath = "a/../../b.db"\n', "stores.db.path: "
         "expected a relative path inside the repo dir"),
        (MINIMAL + "[checkpoints]\nrelease_window = 1.5\n",
         "checkpoints.release_window: expected a number from 0 to 1, got 1.5"),
        (MINIMAL + '[checkpoints]\nrelease_points = "*lock-released"\n',
         "checkpoints.release_points: expected a list of checkpoint name globs, got "
         "'*lock-released'"),
        ('watch = ["ok", "../x"]\n' + MINIMAL, "watch[1]: expected a path inside the repo dir"),
        ('fixtures = "no-such-dir"\n' + MINIMAL, "fixtures: expected an existing directory"),
        # stores: their kinds, paths confined to the repo dir, the built-ins' options
        (MINIMAL + '[stores.db]\nkind = "mysql"\npath = "x.db"\n',
         "stores.db.kind: expected one of json, text, sqlite, tree, got 'mysql'"),
        (MINIMAL + '[stores.db]\nkind = "json"\npath = "x"\nquery = "SELECT 1"\n',
         "stores.db.query: expected no query: only a sqlite store takes one"),
        ('invariants = ["catalog_matches_lockfile"]\n' + MINIMAL + LOCKFILE_STORE,
         "invariants[0].with.catalog: expected the name of a sqlite store among the scenario's "
         "[stores] (lockfile (json)) (the default 'catalog': declare [stores.catalog] or name "
         "another)"),
        ('invariants = [{check = "lockfile_parses", with = {lockfile = "nope"}}]\n' + MINIMAL
         + LOCKFILE_STORE, "invariants[0].with.lockfile: expected the name of a json store"),
        ('invariants = [{check = "lockfile_parses", with = {lokfile = "x"}}]\n' + MINIMAL
         + LOCKFILE_STORE, "invariants[0].with.lokfile: unknown option of lockfile_parses"),
        ('invariants = ["serializable"]\n' + MINIMAL,
         "invariants[0]: expected a [model] table: serializable needs it"),
        ('invariants = [{check = "children_succeed", with = {expected = []}}]\n' + MINIMAL,
         "invariants[0].with.expected: unknown option of children_succeed (expected one of: "
         "none)"),
        ('invariants = [{check = "tree_matches_lockfile", with = {files_relative_to = "disk"}}]'
         '\n' + MINIMAL, "with.files_relative_to: expected one of tree, repo"),
        # environment and archive
        ('inherit_env = "some"\n' + MINIMAL,
         "inherit_env: expected true, false or a list of variable names, got 'some'"),
        ('[env]\nunset = [1]\n' + MINIMAL, "env.unset: expected a list of variable names"),
        ('[[ops]]\nargv = ["{env:RACE_EXPLORER_SURELY_UNSET}"]\n',
         "ops[0].argv[0]: expected {env:RACE_EXPLORER_SURELY_UNSET} to name a set environment "
         "variable (RACE_EXPLORER_SURELY_UNSET is not set)"),
        (MINIMAL + '[archive]\nexclude = ["../outside"]\n',
         "archive.exclude: expected a list of globs relative to the repo dir"),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 's.toml'}: "), message
    assert expected in message, message


def test_paths_that_stay_inside_the_repo_and_absolute_fixtures_are_taken(
        tmp_path: Path) -> None:
    s = load(tmp_path, f'fixtures = "{tmp_path}"\nwatch = ["a/../b"]\n' + MINIMAL
             + '[stores.tree]\nkind = "tree"\npath = "x/../pulled"\n'
             + '[stores.lockfile]\nkind = "json"\npath = "./lock.json"\n')
    assert s.fixtures == tmp_path and s.watch == ("a/../b",)  # type: ignore[attr-defined]
    assert [st.path for st in s.stores] == ["x/../pulled", "./lock.json"]  # type: ignore[attr-defined]


def test_a_lockfile_outside_the_repo_exits_2_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('iterations = 1\n' + MINIMAL
                   + '[stores.lockfile]\nkind = "json"\npath = "/etc/passwd"\n')
    trace = tmp_path / "t.jsonl"
    result = run_explorer("--headless", "--scenario", str(bad), "--trace", str(trace),
                          cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"race-explorer: {bad}: stores.lockfile.path: expected a "
                                     "relative path inside the repo dir"), result.stderr
    assert "Traceback" not in result.stderr and not trace.exists()


def test_service_names_become_placeholders(tmp_path: Path) -> None:
    s = load(tmp_path, '[[services]]\nname = "api"\ncommand = ["{python}", "-m", "http.server"]\n'
                       '[[ops]]\nargv = ["{python}", "-c", "pass", "{api}"]\n')
    assert s.ops[0].argv[-1] == "{api}"  # type: ignore[attr-defined]


def test_plugin_invariant_beside_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "my_checks_for_test.py").write_text(
        "def no_marker(snapshot, outputs):\n"
        "    return ['marker found'] if 'marker' in snapshot.listdir() else []\n"
        "no_marker.when = 'always'\n")
    table = '{check = "my_checks_for_test:no_marker", name = "again", when = "final"}'
    s = load(tmp_path, 'invariants = ["lockfile_parses", "my_checks_for_test:no_marker", '
             + table + "]\n" + MINIMAL + LOCKFILE_STORE)
    invs = s.invariants  # type: ignore[attr-defined]
    assert [(i.name, i.when) for i in invs] == [
        ("lockfile_parses", "always"), ("no_marker", "always"), ("again", "final")]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")


def test_cli_exits_2_naming_file_and_key_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('iterations = 2\ninvariants = ["lockfile_parses", "typo"]\n' + MINIMAL
                   + LOCKFILE_STORE)
    trace = tmp_path / "t.jsonl"
    result = run_explorer("--headless", "--scenario", str(bad), "--trace", str(trace),
                          cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert f"{bad}: invariants[1]: expected a built-in invariant" in result.stderr
    assert not trace.exists()  # nothing started


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run_explorer("--headless", "--iterations", "-3", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "--iterations" in result.stderr


def test_unknown_strategy_exits_2_listing_the_strategies(tmp_path: Path) -> None:
    result = run_explorer("--headless", "--strategy", "bogus", cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--strategy" in result.stderr and "'bogus'" in result.stderr
    assert all(f"'{name}'" in result.stderr for name in ("os", "random", "pct")), result.stderr
    assert not (tmp_path / ".race-explorer").exists()



def test_the_readme_lists_every_key_as_declared() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("<!-- scenario keys: begin -->\n")[1].split("<!-- scenario keys: end")[0]
    assert listed == reference(), "refresh the README's key reference from scenario_keys"
    assert "`start_timeout`" in listed and "`{profile}`" in listed
