"""Sharding a run and merging it back: the CI workflow's own commands, on the reference CLI.

The workflow (docs/ci-github-actions.yml) runs docs/ci-shard.sh once per shard
of its matrix and once to merge; these tests read its matrix, its options and
its run lines, run them here, and hold the merged result to the unsharded run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.merge import merge_traces
from explorer.shard import Shard
from tests.core.core_helpers import REPO_ROOT

WORKFLOW = REPO_ROOT / "docs" / "ci-github-actions.yml"
EXPLORER = f"{sys.executable} -m explorer"
PARALLEL = 2  # the machine's cores
# Five runs of the reference CLI (about 40 s on a quiet 2-core machine): room for a busy one.
pytestmark = pytest.mark.timeout(400)


def workflow() -> tuple[list[int], str, list[str]]:
    """The matrix's shards, RUN_OPTIONS and the run lines that call ci-shard.sh."""
    text = WORKFLOW.read_text(encoding="utf-8")
    matrix = re.search(r"^\s*shard: \[([\d, ]+)\]\s*$", text, re.M)
    options = re.search(r"^\s*RUN_OPTIONS: (.+)$", text, re.M)
    shards = re.search(r"^\s*SHARDS: (\d+)\s*$", text, re.M)
    assert matrix and options and shards, f"{WORKFLOW}: matrix, RUN_OPTIONS or SHARDS not found"
    indices = [int(i) for i in matrix[1].split(",")]
    assert len(indices) == int(shards[1]), "SHARDS must equal the matrix's length"
    runs = re.findall(r"^\s*run: (sh docs/ci-shard\.sh .+)$", text, re.M)
    return indices, options[1].strip(), runs


def expand(line: str, shard: int | None, options: str, count: int) -> str:
    line = line.replace("${{ matrix.shard }}", str(shard))
    return line.replace("$SHARDS", str(count)).replace("$RUN_OPTIONS", options)


def run_all(commands: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Shell commands, PARALLEL at a time, as separate CI jobs would run."""
    env = {**os.environ, "RACE_EXPLORER": EXPLORER}
    env.pop("GITHUB_STEP_SUMMARY", None)
    done: list[subprocess.CompletedProcess[str]] = []
    for start in range(0, len(commands), PARALLEL):
        batch = [subprocess.Popen(["sh", "-c", command.replace("docs/", f"{REPO_ROOT}/docs/")],
                                  cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
                 for command in commands[start:start + PARALLEL]]
        for process, command in zip(batch, commands[start:start + PARALLEL], strict=True):
            out, _ = process.communicate(timeout=150)
            done.append(subprocess.CompletedProcess(command, process.returncode, out))
    return done


def iterations_of(names: list[str]) -> list[str]:
    return [name for name in names if name.startswith("iteration")]


def decisions_by_iteration(traces: Path) -> dict[int, list[tuple[object, ...]]]:
    """Every iteration's scheduling decisions (chosen, action, who was parked where)."""
    found: dict[int, list[tuple[object, ...]]] = {}
    for trace in traces.glob("*.jsonl"):
        for line in trace.read_text().splitlines()[1:]:
            event = json.loads(line)
            if event["kind"] == "schedule_decision" and 1 <= event["iteration"] <= 40:
                found.setdefault(event["iteration"], []).append(
                    (event["chosen"], event["action"], json.dumps(event["parked"])))
    return found


def breaks_by_iteration(traces: Path) -> dict[int, list[tuple[str, str]]]:
    """Every iteration's breaks (invariant, class) in a dir of traces, setup and reconcile out."""
    found: dict[int, list[tuple[str, str]]] = {}
    for trace in traces.glob("*.jsonl"):
        for line in trace.read_text().splitlines()[1:]:
            event = json.loads(line)
            if event["kind"] == "iteration_finished" and 1 <= event["iteration"] <= 40:
                found[event["iteration"]] = sorted(
                    (b["invariant"], b["classification"]) for b in event["breaks"])
    return found


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The workflow's shard jobs, its merge job, and the same run unsharded (--shard 1/1)."""
    work = tmp_path_factory.mktemp("ci")
    indices, options, runs = workflow()
    shard_line = next(line for line in runs if " shard " in line)
    merge_line = next(line for line in runs if " merge " in line)
    whole = (f"{EXPLORER} --headless --shard 1/1 {options} --trace whole/run.jsonl "
             "> whole.out 2>&1; echo $? > whole.code")
    results = run_all([whole, *(expand(shard_line, i, options, len(indices))
                                for i in indices)], work)
    for result in results[1:]:
        assert result.returncode == 0, result.stdout  # a finding is the merge's to report
    merged = run_all([expand(merge_line, None, options, len(indices))], work)[0]
    return {"work": work, "indices": indices, "merged": merged, "options": options}


def test_the_merged_shards_are_the_unsharded_run(sharded: dict[str, object]) -> None:
    work = sharded["work"]
    assert isinstance(work, Path)
    whole = merge_traces([work / "whole" / "run.jsonl"])
    shards = merge_traces(sorted((work / "shards").glob("*.jsonl")))
    assert whole.failing, "the seed's race should fail some iterations of this run"
    assert whole.verdicts["clean"], "and leave some clean, or the comparison says little"
    # The iterations are what is sharded; every shard repeats the setup, whose live checks
    # can catch `init` mid-write on a loaded machine, so it is left out of the comparison.
    # A decision can still differ where a child's grace ran out on a loaded machine (a
    # `blocked` declaration is timed); such an iteration is a different interleaving, so the
    # comparison is over the iterations that made the same decisions, nearly all of them.
    shard_decisions = decisions_by_iteration(work / "shards")
    whole_decisions = decisions_by_iteration(work / "whole")
    same = {i for i in range(1, 41) if shard_decisions.get(i) == whole_decisions.get(i)}
    assert len(same) >= 36, f"only {len(same)} of 40 iterations decided alike"
    shard_breaks = breaks_by_iteration(work / "shards")
    whole_breaks = breaks_by_iteration(work / "whole")
    assert {i: shard_breaks[i] for i in same} == {i: whole_breaks[i] for i in same}
    if len(same) == 40:
        assert iterations_of(shards.failing) == iterations_of(whole.failing)
        assert shards.verdicts == whole.verdicts
    assert not shards.notes
    # The merge job's own outputs say the same, and its exit code is the run's.
    merged = sharded["merged"]
    assert isinstance(merged, subprocess.CompletedProcess)
    assert merged.returncode == int((work / "whole.code").read_text()) == 1, merged.stdout
    summary = (work / "merged" / "summary.txt").read_text()
    assert "failed: " + ", ".join(whole.failing) in summary
    junit = (work / "merged" / "junit.xml").read_text()
    assert junit.count("<testsuite ") == len(sharded["indices"])  # type: ignore[arg-type]
    assert 'failures="0"' not in junit.split("\n")[1]
    page = (work / "merged" / "report.html").read_text()
    assert page.count("<section>") == len(sharded["indices"])  # type: ignore[arg-type]
    # a section per shard, in the run's order, each naming its trace
    at = [page.index(str(shard.absolute())) for shard in
          sorted((work / "shards").glob("*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))]
    assert at == sorted(at)
    # Each shard's trace header says which share it did.
    header = json.loads((work / "shards" / "shard-2.jsonl").open().readline())
    assert header["shard"] == {"index": 2, "count": 4, "of": "iterations"}


def test_merge_names_a_missing_and_a_truncated_shard(sharded: dict[str, object]) -> None:
    work = sharded["work"]
    assert isinstance(work, Path)
    partial = work / "partial"
    partial.mkdir()
    shutil.copy(work / "shards" / "shard-1.jsonl", partial)
    data = (work / "shards" / "shard-2.jsonl").read_bytes()
    (partial / "shard-2.jsonl").write_bytes(data[: len(data) // 2])  # torn mid-line
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "merge", str(partial / "shard-1.jsonl"),
         str(partial / "shard-2.jsonl"), str(partial / "shard-9.jsonl"),
         "-o", str(partial / "out")], capture_output=True, text=True)
    out = result.stdout
    assert "shard 3/4: missing" in out and "shard 4/4: missing" in out
    assert "shard-9.jsonl: no such trace" in out
    assert "shard-2.jsonl (shard 2/4): truncated" in out
    page = (partial / "out" / "report.html").read_text()  # the page says what it lacks too
    assert "shard 3/4: missing" in page and "shard-9.jsonl: no such trace" in page
    assert "Traceback" not in result.stderr
    assert result.returncode == 1  # shard 1 alone holds failures of the seed's race
    # What was read is still merged: every iteration of shard 1 is counted.
    merged = merge_traces([partial / "shard-1.jsonl"])
    assert sum(merged.verdicts.values()) == len(Shard(1, 4).share(list(range(1, 41))))


def test_merge_refuses_traces_of_different_runs(sharded: dict[str, object],
                                                tmp_path: Path) -> None:
    work = sharded["work"]
    assert isinstance(work, Path)
    other = tmp_path / "other.jsonl"
    code = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--profile", "swamp-w2", "--strategy",
         "random", "--iterations", "2", "--shard", "1/4", "--trace", str(other)],
        capture_output=True, text=True).returncode
    assert code in (0, 1)
    result = subprocess.run([sys.executable, "-m", "explorer", "merge",
                             str(work / "shards" / "shard-1.jsonl"), str(other),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "is not a shard of the same run" in result.stderr
    assert "'strategy': 'random'" in result.stderr and "'strategy': 'pct'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_seed_shard_runs_its_seeds_whole_and_merge_misses_the_others(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--iterations", "1", "--seeds", "1..3",
         "--shard", "2/2", "--trace", str(trace)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["run-seed2.jsonl"]
    header = json.loads((tmp_path / "run-seed2.jsonl").open().readline())
    assert header["seed"] == 2 and header["shard"]["of"] == "seeds"
    merged = subprocess.run([sys.executable, "-m", "explorer", "merge",
                             str(tmp_path / "run-seed2.jsonl"), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert "seed 1: missing" in merged.stdout and "seed 3: missing" in merged.stdout
    assert merged.returncode == 65  # clean, but less than the run asked for


def test_max_time_ends_the_run_at_an_iteration_boundary(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "--headless", "--iterations", "500", "--max-time",
         "3", "--trace", str(trace)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in trace.read_text().splitlines()[1:]]
    started = [e["iteration"] for e in events if e["kind"] == "iteration_started"]
    finished = [e["iteration"] for e in events if e["kind"] == "iteration_finished"]
    assert started == finished  # no iteration cut short
    ran = [i for i in finished if 1 <= i <= 500]
    assert 0 < len(ran) < 500
    assert finished[-1] == 501  # the final reconcile still runs
    assert events[-1]["kind"] == "run_finished" and events[-1]["iterations"] == len(ran)
    assert f"stopped by --max-time after {len(ran)} of 500 iterations" in result.stdout


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/0"])
def test_a_bad_shard_is_one_line_and_exit_2(text: str) -> None:
    result = subprocess.run([sys.executable, "-m", "explorer", "--headless", "--shard", text],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--shard" in result.stderr


def test_shards_split_every_run_exactly_once() -> None:
    for total in (0, 1, 7, 40):
        for count in (1, 3, 4, 9):
            every = list(range(1, total + 1))
            shares = [Shard(i, count).share(every) for i in range(1, count + 1)]
            assert sorted(i for share in shares for i in share) == every
            assert max(map(len, shares)) - min(map(len, shares)) <= 1
