"""Escape sequences a child prints reach no terminal raw: every face shows them escaped."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core_helpers import (
    LIFECYCLE_HEAD,
    explorer_env,
    python_op,
    run_explorer,
    setup_op,
    write_scenario,
)
from test_core_classify import PLANT_A_GHOST_ENTRY
from test_core_trace import sample

from explorer.events import (
    Break,
    ChildOutput,
    ChildSpec,
    Event,
    FileChanged,
    InvariantChecked,
    IterationFinished,
    IterationStarted,
    RunStarted,
)
from explorer.trace import TraceReader, TraceWriter, make_header

# OSC 52 writes the clipboard, CSI 2J clears the screen, OSC 0 sets the title; 0x9b is CSI.
HOSTILE_SOURCE = r"\x1b]52;c;aGFja2Vk\x07\x1b[2J\x1b]0;pwned\x07\x9b31m done"
HOSTILE = HOSTILE_SOURCE.encode().decode("unicode_escape")
SHOWN = r"\x1b]52;c;aGFja2Vk\x07\x1b[2J\x1b]0;pwned\x07\x9b31m done"
RAW = ("\x1b", "\x07", "\x9b")


def test_headless_report_and_replay_show_escapes_escaped(tmp_path: Path) -> None:
    body = (LIFECYCLE_HEAD + setup_op("pull beta", "extension", "pull", "@stress/beta")
            + python_op("plant a ghost entry", PLANT_A_GHOST_ENTRY)
            + python_op("hostile", f'import sys; print("{HOSTILE_SOURCE}"); '
                                   f'print("{HOSTILE_SOURCE}", file=sys.stderr)'))
    scenario = write_scenario(tmp_path, "hostile", body, top="iterations = 1")
    trace = tmp_path / "run.jsonl"
    env = explorer_env() | {"GITHUB_ACTIONS": "true"}
    run = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                       cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    report = run.stdout[run.stdout.index("FAILED iteration 1/1"):]
    assert f"  child 1 hostile: exit 0\n      | {SHOWN}\n      ! {SHOWN}\n" in report
    assert not any(c in run.stdout + run.stderr for c in RAW)
    # The trace keeps what the child wrote, byte for byte; only what is shown is escaped.
    lines = [e.line for e in TraceReader(trace).events() if isinstance(e, ChildOutput)]
    assert HOSTILE in lines

    replay = run_explorer("replay", str(trace), "--headless", "--iteration", "1", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    assert f"[1 hostile] | {SHOWN}" in replay.stdout
    assert not any(c in replay.stdout + replay.stderr for c in RAW)


def test_a_shared_trace_cannot_write_escapes_through_replay(tmp_path: Path) -> None:
    """Every string of a trace is its author's: labels, messages, paths, the header."""
    hostile_spec = ChildSpec(0, f"pull {HOSTILE}", ["python", HOSTILE])
    hostile_break = Break("x", f"broken {HOSTILE}", HOSTILE, "healed")
    events: list[Event] = []
    for event in sample():
        if isinstance(event, RunStarted):
            event = replace(event, scenario=HOSTILE, ops=[hostile_spec])
        elif isinstance(event, IterationStarted):
            event = replace(event, children=[hostile_spec])
        elif isinstance(event, (IterationFinished, InvariantChecked)):
            event = replace(event, breaks=[hostile_break])
        elif isinstance(event, FileChanged):
            event = replace(event, changes=[("added", HOSTILE)])
        events.append(event)
    path = tmp_path / "shared.jsonl"
    header = make_header(scenario=HOSTILE, scenario_path=None, seed=7, argv=["x", HOSTILE])
    with TraceWriter(path, header) as writer:
        for event in events:
            writer(event)
    for args in ([], ["--iteration", "1"]):
        replay = run_explorer("replay", str(path), "--headless", *args, cwd=tmp_path)
        assert replay.returncode == 0, replay.stderr
        assert SHOWN in replay.stdout
        assert not any(c in replay.stdout + replay.stderr for c in RAW)
