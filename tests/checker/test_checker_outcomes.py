"""children_succeed and the evidence patterns, as the default scenario declares them."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.events import Break
from explorer.invariants import Transcript
from explorer.outcomes import History, Span
from explorer.scenario import DEFAULT_SCENARIO, load_scenario
from explorer.scenario_values import ScenarioError
from tests.core.core_helpers import reference_snapshot

SCENARIO = load_scenario(None)
CHECKS = {inv.name: inv for inv in SCENARIO.invariants}
AGREEING = reference_snapshot(lockfile="{}")


def history(*children: tuple[str, int | None, list[str]], kind: str = "iteration",
            killed: str | None = None, stderr: bool = False) -> History:
    """Children as (label, exit code, lines); `stderr`: every line went to stderr."""
    transcripts = tuple(Transcript(i, label, tuple(lines), code)
                        for i, (label, code, lines) in enumerate(children))
    spans = {i: Span(("lifecycle",), 0.0, 1.0, killed, tuple(lines) if stderr else ())
             for i, (_, _, lines) in enumerate(children)}
    return History(transcripts, spans, AGREEING, kind)  # type: ignore[arg-type]


def run(name: str, outputs: History | list[Transcript]) -> list[Break]:
    return CHECKS[name].run(AGREEING, outputs)


def test_the_documented_failures_of_the_reference_cli_are_expected() -> None:
    outputs = history(("rm @stress/alpha", 1, ["@stress/alpha is not installed"]),
                      ("pull @stress/beta", 1, ["Install partially applied for @stress/beta "
                                                "— files extracted but the catalog write failed"]),
                      ("update", 0, ["@stress/beta is up to date (1.0.0)"]))
    assert run("children_succeed", outputs) == []


def test_an_undocumented_failure_is_a_break_naming_the_child() -> None:
    outputs = history(("pull @stress/alpha@1.0.0", 1, ["error: [Errno 2] No such file"]),
                      ("rm @stress/alpha", 0, ["Removed @stress/alpha@1.0.0"]))
    [brk] = run("children_succeed", outputs)
    assert brk.message == ("child 0 (pull @stress/alpha@1.0.0) exited 1, a failure the "
                           "scenario does not expect of it: error: [Errno 2] No such file")


def test_an_expected_failure_counts_only_for_the_ops_it_names() -> None:
    # 'not installed' is expected of the rm, not of an update that says it.
    outputs = history(("update", 1, ["@stress/alpha is not installed"]))
    assert [b.invariant for b in run("children_succeed", outputs)] == ["children_succeed"]


def test_a_signal_the_explorer_did_not_send_is_a_break_and_its_own_kills_are_not() -> None:
    [brk] = run("children_succeed", history(("update", -9, [])))
    assert brk.message.startswith("child 0 (update) was killed by signal 9 (not by the explorer)")
    for reason in ("fault", "timeout", "interrupt"):
        assert run("children_succeed", history(("update", -9, []), killed=reason)) == []


def test_an_error_line_after_exit_0_is_a_break() -> None:
    [brk] = run("children_succeed", history(("update", 0, ["Traceback (most recent call)"]),
                                            stderr=True))
    assert brk.message == ("child 0 (update) exited 0 but reported an error the scenario "
                           "does not expect: Traceback (most recent call)")


def test_setup_failures_are_left_to_the_runner() -> None:
    assert run("children_succeed", history(("init", 1, ["boom"]), kind="setup")) == []


def test_evidence_lines_break_the_invariant_they_name_with_their_entity() -> None:
    outputs = history(
        ("pull @stress/beta", 1, ["Could not acquire lock on upstream_extensions.json"]),
        ("update", 0, ["Dropping orphan row @stress/alpha@1.0.0 (no lockfile entry)",
                       "Removing orphan file @stress/alpha/workflows/alpha_sync.json (x)"]),
        ("pull @stress/gamma", 1, ["DuplicateTypeError: @stress/gamma declares model type t, "
                                   "already indexed by @stress/alpha"]),
    )
    assert [(b.extension, b.message) for b in run("no_lock_exhaustion", outputs)] == [
        (None, "child 0 (pull @stress/beta) reported (ran out of lock retries): Could not "
               "acquire lock on upstream_extensions.json")]
    assert [b.extension for b in run("no_orphans_swept", outputs)] == ["@stress/alpha"] * 2
    # Evidence joins a built-in of the same name: the catalog half still runs.
    [brk] = run("no_duplicate_type_error", outputs)
    assert brk.extension == "@stress/gamma"


def test_a_reconciles_repairs_are_not_evidence() -> None:
    # Repairing what earlier blocks left is its job, and those blocks were judged.
    line = "Removing orphan file @stress/alpha/models/a.json (no lockfile entry)"
    assert run("no_orphans_swept", history(("update", 0, [line]), kind="reconcile")) == []
    assert run("no_orphans_swept", [Transcript(0, "update", (line,), 0)]) == []


def scenario_with(tmp_path: Path, block: str) -> Path:
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8").replace(
        'fixtures = "../fixtures"', f"fixtures = '{DEFAULT_SCENARIO.parent.parent / 'fixtures'}'")
    path = tmp_path / "s.toml"
    path.write_text(text + block, encoding="utf-8")
    return path


@pytest.mark.parametrize(("block", "words"), [
    ("[[expected_failures]]\npattern = 'x'\nexit = ['1']\n",
     "expected_failures[2].exit: expected a list of integers, got ['1']"),
    ("[[expected_failures]]\npattern = 'x'\nops = ['rm @stress/beta']\n",
     "expected_failures[2].ops[0]: expected the label of one of the scenario's commands ("),
    ("[[evidence]]\npattern = '(unclosed'\n", "evidence[4].pattern: expected a regular "
     "expression (missing ), unterminated subpattern at position 0)"),
    ("[[evidence]]\ninvariant = 'x'\n", "evidence[4].pattern: expected a non-empty string"),
])
def test_a_bad_declaration_is_one_line_naming_the_key(
        tmp_path: Path, block: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_with(tmp_path, block))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_evidence_naming_no_listed_invariant_adds_one(tmp_path: Path) -> None:
    block = "[[evidence]]\npattern = '^WARN (?P<entity>\\S+)'\ninvariant = 'no_warnings'\n"
    [added] = [inv for inv in load_scenario(scenario_with(tmp_path, block)).invariants
               if inv.name == "no_warnings"]
    [brk] = added.run(AGREEING, history(("update", 0, ["WARN @stress/beta is old"])))
    assert (brk.invariant, brk.extension) == ("no_warnings", "@stress/beta")
