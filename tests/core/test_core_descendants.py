"""What a child leaves running (issue 10, items 6 and 7): a background job in its group
is a leftover, killed when the child exits and reported as such; a grandchild that left
the group with setsid is ended at the block's end; the run exits cleanly either way."""

from __future__ import annotations

from pathlib import Path

from core_helpers import pid_alive, run_explorer, run_scenario, toml_str, write_scenario

from explorer.events import ChildExited, ChildOutput, IterationFinished
from explorer.trace import TraceReader

ONE_BLOCK = 'iterations = 1\ntimeout = 20\ninvariants = []'
# Prints the pid of a grandchild that starts its own session and keeps the pipes open.
ESCAPE = ('import subprocess, sys; p = subprocess.Popen([sys.executable, "-c", '
          '"import time; time.sleep(300)"], start_new_session=True); print(p.pid)')


def run(tmp_path: Path, op: str) -> tuple[str, list[object], int]:
    scenario = write_scenario(tmp_path, "s", f'[[ops]]\nlabel = "op"\nargv = {op}\n',
                              top=ONE_BLOCK)
    trace = tmp_path / "run.jsonl"
    result = run_explorer("--headless", "--scenario", str(scenario), "--trace", str(trace),
                          cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    events = TraceReader(trace).events()
    [pid] = [int(e.line) for e in events
             if isinstance(e, ChildOutput) and e.iteration == 1 and e.line.isdigit()]
    return result.stderr, events, pid


def test_a_background_job_in_the_group_is_a_killed_leftover_not_a_timeout(
        tmp_path: Path) -> None:
    stderr, events, sleeper = run(tmp_path, '["sh", "-c", "sleep 300 & echo $!"]')
    [exited] = [e for e in events if isinstance(e, ChildExited) and e.iteration == 1]
    assert (exited.returncode, exited.killed, exited.leftovers) == (0, None, 1)
    assert exited.outcome == "exit 0, 1 leftover process(es) killed"
    [finished] = [e for e in events if isinstance(e, IterationFinished) and e.iteration == 1]
    assert finished.verdict == "clean" and finished.duration < 20, finished
    assert not pid_alive(sleeper)
    assert "Exception ignored" not in stderr, stderr


def test_a_grandchild_that_left_the_group_is_ended_at_the_blocks_end(tmp_path: Path) -> None:
    stderr, events, escaped = run(tmp_path, f'["{{python}}", "-c", {toml_str(ESCAPE)}]')
    [exited] = [e for e in events if isinstance(e, ChildExited) and e.iteration == 1]
    assert (exited.returncode, exited.killed) == (0, None)
    [finished] = [e for e in events if isinstance(e, IterationFinished) and e.iteration == 1]
    assert finished.verdict == "clean" and finished.duration < 20, finished
    assert not pid_alive(escaped)
    assert "Exception ignored" not in stderr and "Event loop is closed" not in stderr, stderr


async def test_the_escaped_grandchild_is_gone_when_its_block_is_judged(tmp_path: Path) -> None:
    op = f'[[ops]]\nlabel = "op"\nargv = ["{{python}}", "-c", {toml_str(ESCAPE)}]\n'
    scenario = write_scenario(tmp_path, "s", op, top=ONE_BLOCK.replace("= 1", "= 2"))
    seen: dict[int, int] = {}
    alive_at_end: dict[int, bool] = {}

    def watch(event: object, _: object) -> None:
        if isinstance(event, ChildOutput) and event.line.isdigit():
            seen[event.iteration] = int(event.line)
        if isinstance(event, IterationFinished) and event.iteration in seen:
            alive_at_end[event.iteration] = pid_alive(seen[event.iteration])

    finished, _, _ = await run_scenario(scenario, tmp_path, on_event=watch)
    assert finished.exit_code == 0
    assert alive_at_end == {1: False, 2: False}
