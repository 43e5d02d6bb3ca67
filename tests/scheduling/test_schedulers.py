"""The schedulers against real child processes speaking the checkpoint protocol."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from explorer.scheduling.factory import ControlledFactory, ReplayFactory
from explorer.scheduling.replay import ReplayScheduler
from explorer.scheduling.strategies import STRATEGIES, StrategyInputs
from tests.core.core_helpers import REPO_ROOT

from .harness import alive, run_block

THREE = [["a", "4"], ["b", "4"], ["c", "4"]]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_name_makes_that_strategy(name: str) -> None:
    make = STRATEGIES[name]
    made = make(StrategyInputs(random.Random(0), [0, 1], 3, 10)) if make else None
    assert (made.name if made else "os") == name
    assert ControlledFactory(name, seed=0).strategy == name


@pytest.mark.parametrize("strategy", ["random", "pct"])
async def test_same_seed_gives_same_schedule(tmp_path: Path, strategy: str) -> None:
    first = await run_block(ControlledFactory(strategy, seed=7).for_block(1), tmp_path, THREE)
    second = await run_block(ControlledFactory(strategy, seed=7).for_block(1), tmp_path, THREE)
    assert len(first.log) == 12
    assert first.log == second.log
    assert [(d.chosen, d.action) for d in first.decisions] == [
        (d.chosen, d.action) for d in second.decisions
    ]


async def test_seeds_explore_different_interleavings(tmp_path: Path) -> None:
    logs = set()
    for seed in range(6):
        block = await run_block(ControlledFactory("random", seed).for_block(1), tmp_path, THREE)
        logs.add(tuple(block.log))
    assert len(logs) > 1


async def test_one_child_runs_between_checkpoints(tmp_path: Path) -> None:
    block = await run_block(ControlledFactory("random", 3).for_block(1), tmp_path, THREE)
    runs = [d for d in block.decisions if d.action == "run"]
    # serialised: the log, written right after each `go`, is the order of the decisions
    taken = [f"{'abc'[d.chosen]}:{dict(d.parked)[d.chosen].removeprefix('step-')}" for d in runs]
    assert block.log == taken
    assert len(taken) == 12


async def test_replay_follows_the_recorded_schedule(tmp_path: Path) -> None:
    recorded = await run_block(ControlledFactory("pct", seed=11).for_block(1), tmp_path, THREE)
    for _ in range(3):
        replayer = ReplayScheduler(recorded.decisions)
        again = await run_block(replayer, tmp_path, THREE)
        assert again.log == recorded.log
        assert replayer.divergences == []


async def test_replay_factory_runs_unrecorded_iterations_freely(tmp_path: Path) -> None:
    factory = ReplayFactory({})
    block = await run_block(factory.for_block(5), tmp_path, THREE)
    assert sorted(block.log) == sorted(f"{n}:{i}" for n in "abc" for i in range(1, 5))
    assert block.decisions == []


async def test_kill_at_checkpoint_kills_the_whole_child(tmp_path: Path) -> None:
    factory = ControlledFactory("random", seed=1, kill_at="step-2")
    block = await run_block(factory.for_block(1), tmp_path, THREE)
    kills = [d for d in block.decisions if d.action == "kill"]
    assert len(kills) == 1
    victim = "abc"[kills[0].chosen]
    assert f"{victim}:1" in block.log and f"{victim}:2" not in block.log
    assert block.returncodes[kills[0].chosen] == -9
    assert not alive(block.pids[kills[0].chosen])


async def test_spinning_child_never_starves_the_others(tmp_path: Path) -> None:
    children = [["spinner", "12", "spin"], ["worker", "3"]]
    for seed in range(3):
        block = await run_block(ControlledFactory("pct", seed).for_block(1), tmp_path, children)
        # while the worker has a turn to take, the spinner is never chosen
        for d in block.decisions:
            if d.action == "run" and any(c == 1 for c, _ in d.parked):
                assert d.chosen == 1


async def test_child_blocked_outside_checkpoints_does_not_hang(tmp_path: Path) -> None:
    # a takes the flock at step 1 and keeps it; b blocks on it outside any checkpoint
    factory = ControlledFactory("random", seed=2, grace=0.3)
    children = [["a", "3", "flock"], ["b", "3", "flock"]]
    block = await run_block(factory.for_block(1), tmp_path, children, timeout=60)
    assert sorted(block.log) == ["a:1", "a:2", "a:3", "b:1", "b:2", "b:3"]
    assert any(d.action == "blocked" for d in block.decisions)


def test_replay_masks_a_uuid_temporary_name_as_one_part() -> None:
    from explorer.scheduling.replay import stable

    # Deno names a temporary file after a fresh UUID each run: two runs' names must compare
    # equal, and still differ from another file's.
    first = stable("open:extensions/models/.d49031c9-9079-4d79-b9a5-0c1f2e3d4a5b.tmp")
    second = stable("open:extensions/models/.7f3e0a11-2b4c-4e6f-8a9b-c0d1e2f3a4b5.tmp")
    assert first == second == "open:extensions/models/.#.tmp"
    assert stable("open:extensions/models/upstream_extensions.json") != first


def test_the_scenario_sets_pcts_k_and_the_option_overrides_it(tmp_path: Path) -> None:
    """A target whose iterations reach ~720 checkpoints says so once, in its scenario, so
    PCT's change points fall anywhere in an iteration, not only in its first half."""
    from explorer.request import RunOptions
    from explorer.scenario import DEFAULT_SCENARIO, load_scenario

    path = tmp_path / "k.toml"
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8").replace(
        "\n[stores.lockfile]", "\n[checkpoints]\npct_steps = 720\n\n[stores.lockfile]", 1)
    path.write_text(re.sub(r"(?m)^fixtures = .*$", f"fixtures = '{REPO_ROOT / 'fixtures'}'",
                           text), encoding="utf-8")
    scenario = load_scenario(path)
    default = load_scenario(None)

    def k(scenario: object, **options: object) -> object:
        factory = RunOptions(strategy="pct", **options).scheduler_factory(scenario)  # type: ignore[arg-type]
        return getattr(factory, "pct_steps", None)

    assert k(scenario) == 720
    assert k(scenario, pct_steps=40) == 40
    assert k(default) == 30  # the hook mode's guess
