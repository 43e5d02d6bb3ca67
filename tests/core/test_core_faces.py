"""The headless reporter and the JUnit recorder, fed a hand-made event stream."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from explorer.events import (
    Break,
    ChildExited,
    ChildOutput,
    ChildSpec,
    Event,
    InvariantSpec,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
)
from explorer.headless import HeadlessReporter
from explorer.junit import JUnitRecorder
from explorer.trace import explorer_executable

OPS = [ChildSpec(0, "pull @stress/beta", ["p"]), ChildSpec(1, "rm @stress/alpha", ["r"])]
HEALED = Break("catalog_matches_lockfile", "the lockfile lists @stress/beta@1.0.0 but ...",
               "@stress/beta", "healed")
TOLERATED = Break("tree_matches_lockfile", "partial", "@stress/beta", "tolerated")
HEALED_ALPHA = Break("catalog_matches_lockfile", "the lockfile lists @stress/alpha@2.0.0 but ...",
                     "@stress/alpha", "healed")
INVARIANTS = [InvariantSpec("catalog_matches_lockfile", "quiescent"),
              InvariantSpec("tree_matches_lockfile", "quiescent")]


def stream() -> list[Event]:
    return [
        RunStarted(t=0, scenario="demo", scenario_path=None, seed=3, iterations=3, ops=OPS,
                   invariants=INVARIANTS, repo_dir="/r", watched=["."], profile="swamp-w2"),
        IterationStarted(t=0.1, iteration=0, block="setup", children=[]),
        IterationFinished(t=0.2, iteration=0, duration=0.1, verdict="clean", breaks=[]),
        IterationStarted(t=0.3, iteration=1, children=OPS),
        *[ChildOutput(t=0.4, iteration=1, child=0, stream="stdout", line=f"line {i}")
          for i in range(8)],
        ChildOutput(t=0.5, iteration=1, child=1, stream="stderr", line="[bold]not markup[/]"),
        ChildExited(t=0.6, iteration=1, child=0, returncode=0),
        ChildExited(t=0.6, iteration=1, child=1, returncode=None, killed="timeout"),
        IterationFinished(t=0.7, iteration=1, duration=0.4, verdict="failed",
                          breaks=[TOLERATED, HEALED]),
        IterationStarted(t=0.8, iteration=2, children=OPS),
        IterationFinished(t=0.9, iteration=2, duration=0.1, verdict="tolerated",
                          breaks=[TOLERATED]),
        # the same kind again, for another extension: one line, counted in its kind
        IterationStarted(t=0.95, iteration=3, children=OPS),
        IterationFinished(t=0.97, iteration=3, duration=0.1, verdict="failed",
                          breaks=[HEALED_ALPHA]),
        # the reconcile finds alpha's break as it was: carried over, counted once
        IterationStarted(t=1.0, iteration=4, block="reconcile", children=OPS[:1]),
        IterationFinished(t=1.1, iteration=4, duration=0.1, verdict="failed",
                          breaks=[replace(HEALED_ALPHA, classification="persistent",
                                          first_seen=3)]),
        RunFinished(t=1.2, iterations=3, counts={"tolerated": 2, "healed": 2, "persistent": 1},
                    exit_code=1),
    ]


def report(*, terminal: bool, github: bool = False,
           summary: Path | None = None) -> tuple[str, HeadlessReporter]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=100, color_system=None)
    reporter = HeadlessReporter(console, Path("/nowhere/run.jsonl"), github=github,
                                step_summary=summary)
    for event in stream():
        reporter(event)
    return buf.getvalue(), reporter


def test_plain_report_of_a_failing_break() -> None:
    out, reporter = report(terminal=False)
    assert reporter.exit_code == 1
    assert "scenario demo, 3 iterations of 2 children, seed 3, profile swamp-w2" in out
    assert "iteration 1/3: failed (1 tolerated break(s)) (0.40 s)" in out
    assert "iteration 2/3: tolerated (1 tolerated break(s))" in out
    failure = out[out.index("FAILED iteration 1/3 (new kind #1)"):]
    assert ("  catalog_matches_lockfile [healed] the lockfile lists @stress/beta@1.0.0 but ..."
            in failure)
    assert "tree_matches_lockfile [tolerated]" not in failure  # tolerated is not a failure
    assert "  child 0 pull @stress/beta: exit 0\n      | line 3\n" in failure
    assert "line 2" not in failure  # the last 5 lines only
    assert "  child 1 rm @stress/alpha: killed (timeout)\n      ! [bold]not markup[/]" in failure
    exe = explorer_executable()
    assert (f"  re-execute (found by strategy os, seed 3): {exe} replay /nowhere/run.jsonl "
            "--iteration 1 --rerun") in failure
    assert f"  step by step: {exe} replay /nowhere/run.jsonl --headless --iteration 1 --why" in out
    assert "failed in block(s) 1, 3\n" in out and "trace: /nowhere/run.jsonl" in out  # 4: carried
    assert "::error" not in out


def test_later_failures_of_a_kind_are_one_line_and_grouped_at_the_end() -> None:
    out, _ = report(terminal=False)
    assert out.count("FAILED iteration") == 2
    [again] = [line for line in out.splitlines() if line.startswith("FAILED iteration 3/3")]
    assert again == ("FAILED iteration 3/3: kind #1 again: catalog_matches_lockfile [healed] "
                     "the lockfile lists @stress/alpha@2.0.0 but ...")
    assert ("final reconcile: still broken since block 3, counted there: "
            "catalog_matches_lockfile") in out
    grouped = out[out.index("failures by kind:"):]
    assert grouped.startswith("failures by kind: 2 failing break(s) of 1 kind(s), "
                              "1 more carried over\n")
    assert ("  #1 ×2 in iterations 1–3: catalog_matches_lockfile [healed]: the lockfile lists "
            "NAME@V but ...") in grouped
    assert (f"     reproduce: {explorer_executable()} replay /nowhere/run.jsonl --iteration 1 "
            "--rerun") in grouped


def test_github_annotations_and_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out, _ = report(terminal=False, github=True, summary=summary)
    [annotation] = [line for line in out.splitlines() if line.startswith("::error")]
    assert annotation == (
        "::error title=race-explorer: catalog_matches_lockfile (healed)::iteration 1/3: the "
        f"lockfile lists @stress/beta@1.0.0 but ...%0Areproduce: {explorer_executable()} "
        "replay /nowhere/run.jsonl --iteration 1 --rerun")
    text = summary.read_text()
    assert text.startswith("earlier step\n## race-explorer: demo — failed\n")  # appended
    assert "| kind | failures | iterations | reproduce |" in text
    assert ("| catalog_matches_lockfile [healed]: the lockfile lists NAME@V but ... | "
            "2 (+1 carried over) | 1–3 | `") in text


def test_terminal_report_draws_progress_instead_of_lines() -> None:
    out, _ = report(terminal=True)
    assert "iteration 2/3: tolerated" not in out  # the bar, not one line per iteration
    assert "FAILED iteration 1/3" in out  # failures are still printed
    assert "healed breaks" in out


def test_junit_one_case_per_block_and_invariant(tmp_path: Path) -> None:
    recorder = JUnitRecorder(Path("run.jsonl"))
    for event in stream():
        recorder(event)
    path = tmp_path / "out" / "junit.xml"
    recorder.write(path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases)[:3] == ["setup", "iteration 001: catalog_matches_lockfile",
                               "iteration 001: tree_matches_lockfile"]
    assert len(cases) == 1 + 4 * 2
    # failures counts <failure> elements: alpha's break carried into the reconcile is not one
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["iteration 001: catalog_matches_lockfile",
                      "iteration 003: catalog_matches_lockfile"]
    assert suite.get("failures") == str(len(suite.findall(".//failure"))) == "2"
    failure = cases["iteration 001: catalog_matches_lockfile"].find("failure")
    assert failure is not None and failure.get("type") == "healed"
    assert "child 1 rm @stress/alpha: killed (timeout)" in (failure.text or "")
    assert (f"reproduce: {explorer_executable()} replay {Path('run.jsonl').absolute()} "
            "--iteration 1 --rerun") in (failure.text or "")
    carried = cases["final reconcile: catalog_matches_lockfile"].find("system-out")
    assert carried is not None and (carried.text or "").startswith(
        "still broken since block 3, counted there")
    out = cases["iteration 002: tree_matches_lockfile"].find("system-out")
    assert out is not None and "tolerated: partial" in (out.text or "")
