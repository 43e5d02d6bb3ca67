"""The headless reporter and the JUnit recorder, fed a hand-made event stream."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from explorer.events import (
    Break,
    ChildExited,
    ChildOutput,
    ChildSpec,
    Event,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
)
from explorer.headless import HeadlessReporter
from explorer.junit import JUnitRecorder

OPS = [ChildSpec(0, "pull @stress/beta", ["p"]), ChildSpec(1, "rm @stress/alpha", ["r"])]
HEALED = Break("catalog_matches_lockfile", "the lockfile lists @stress/beta@1.0.0 but ...",
               "@stress/beta", "healed")
TOLERATED = Break("tree_matches_lockfile", "partial", "@stress/beta", "tolerated")


def stream() -> list[Event]:
    return [
        RunStarted(t=0, scenario="demo", scenario_path=None, seed=3, iterations=2, ops=OPS,
                   invariants=[], repo_dir="/r", watched=["."], profile="swamp-w2"),
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
        IterationStarted(t=1.0, iteration=3, block="reconcile", children=OPS[:1]),
        IterationFinished(t=1.1, iteration=3, duration=0.1, verdict="clean", breaks=[]),
        RunFinished(t=1.2, iterations=2, counts={"tolerated": 2, "healed": 1, "persistent": 0},
                    exit_code=1),
    ]


def report(*, terminal: bool, github: bool = False) -> tuple[str, HeadlessReporter]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=100, color_system=None)
    reporter = HeadlessReporter(console, Path("/nowhere/run.jsonl"), github=github)
    for event in stream():
        reporter(event)
    return buf.getvalue(), reporter


def test_plain_report_of_a_failing_break() -> None:
    out, reporter = report(terminal=False)
    assert reporter.exit_code == 1
    assert "scenario demo, 2 iterations of 2 children, seed 3, profile swamp-w2" in out
    assert "iteration 1/2: failed (1 tolerated break(s)) (0.40 s)" in out
    assert "iteration 2/2: tolerated (1 tolerated break(s))" in out
    failure = out[out.index("FAILED iteration 1/2"):]
    assert ("  catalog_matches_lockfile [healed] the lockfile lists @stress/beta@1.0.0 but ..."
            in failure)
    assert "tree_matches_lockfile [tolerated]" not in failure  # tolerated is not a failure
    assert "  child 0 pull @stress/beta: exit 0\n      | line 3\n" in failure
    assert "line 2" not in failure  # the last 5 lines only
    assert "  child 1 rm @stress/alpha: killed (timeout)\n      ! [bold]not markup[/]" in failure
    assert "race-explorer replay /nowhere/run.jsonl --iteration 1" in failure
    assert "failed in block(s) 1" in out and "trace: /nowhere/run.jsonl" in out
    assert "::error" not in out


def test_github_annotations() -> None:
    out, _ = report(terminal=False, github=True)
    [annotation] = [line for line in out.splitlines() if line.startswith("::error")]
    assert annotation == ("::error title=race-explorer: catalog_matches_lockfile (healed)::"
                          "iteration 1/2: the lockfile lists @stress/beta@1.0.0 but ...")


def test_terminal_report_draws_progress_instead_of_lines() -> None:
    out, _ = report(terminal=True)
    assert "iteration 2/2: tolerated" not in out  # the bar, not one line per iteration
    assert "FAILED iteration 1/2" in out  # failures are still printed in full
    assert "healed breaks" in out


def test_junit_cases_failures_and_tolerated_output(tmp_path: Path) -> None:
    recorder = JUnitRecorder(Path("run.jsonl"))
    for event in stream():
        recorder(event)
    path = tmp_path / "out" / "junit.xml"
    recorder.write(path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("4", "1")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["setup", "iteration 001", "iteration 002", "final reconcile"]
    failure = cases["iteration 001"].find("failure")
    assert failure is not None and failure.get("type") == "healed"
    assert "child 1 rm @stress/alpha: killed (timeout)" in (failure.text or "")
    assert f"race-explorer replay {Path('run.jsonl').absolute()} --iteration 1" in (
        failure.text or "")
    out = cases["iteration 002"].find("system-out")
    assert out is not None and "tolerated tree_matches_lockfile: partial" in (out.text or "")
