"""Shrink a failing iteration to a smaller case that still fails the same way.

Like Hypothesis shrinking a counterexample, but for an interleaving: first
drop children (fewer ops), then cut context switches (a shorter script, after
which nobody is preempted, or one child's two runs merged into one). Every
candidate is a real re-execution from the iteration's recorded start; the
smallest one that still breaks one of the original failing invariants wins.
Its own trace records the exact schedule it ran, so it replays exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from explorer.events import ChildSpec, ScheduleDecision
from explorer.rerun import RERUN_ITERATION, Outcome, RecordedIteration, execute, rerun
from explorer.scenario import Scenario
from explorer.scheduling.factory import checkpoint_mode
from explorer.scheduling.script import Script, ScriptFactory


def script_of(decisions: list[ScheduleDecision]) -> Script:
    return [(d.chosen, d.action) for d in decisions if d.action != "blocked"]


def switches(script: Script) -> int:
    """Context switches: consecutive steps taken by different children."""
    return sum(1 for a, b in zip(script, script[1:], strict=False) if a[0] != b[0])


def _runs(script: Script) -> list[Script]:
    runs: list[Script] = []
    for step in script:
        if runs and runs[-1][0][0] == step[0]:
            runs[-1].append(step)
        else:
            runs.append([step])
    return runs


def fewer_switches(script: Script) -> Iterator[Script]:
    """Candidate scripts with fewer switches, boldest first."""
    runs = _runs(script)
    for keep in range(len(runs)):  # stop preempting after the first `keep` runs
        yield [step for run in runs[:keep] for step in run]
    for i in range(2, len(runs)):  # merge run i into the earlier run of the same child
        if runs[i][0][0] == runs[i - 2][0][0]:
            merged = [*runs[: i - 2], runs[i - 2] + runs[i], runs[i - 1], *runs[i + 1 :]]
            yield [step for run in merged for step in run]


@dataclass
class ShrinkResult:
    recorded: RecordedIteration
    reproduced: Outcome  # the exact rerun the shrinking started from
    best: Outcome
    tried: int = 0
    log: list[str] = field(default_factory=list)  # each accepted reduction, in words

    @property
    def shrunk(self) -> bool:
        return self.best is not self.reproduced


async def shrink(
    recorded: RecordedIteration,
    scenario: Scenario,
    *,
    budget: int = 40,
    progress: Callable[[str], None] = lambda line: None,
) -> ShrinkResult | None:
    """None when the recorded failure does not reproduce (nothing to shrink)."""
    target = {b.invariant for b in recorded.failing}
    if not target:
        return None
    progress(f"re-running iteration {recorded.iteration} under its recorded schedule")
    reproduced = await rerun(recorded, scenario)
    if not _fails(reproduced, target):
        return None
    result = ShrinkResult(recorded, reproduced, reproduced)
    mode = checkpoint_mode(recorded.run.checkpoints)

    async def attempt(children: list[ChildSpec], script: Script, why: str) -> bool:
        if result.tried >= budget:
            return False
        result.tried += 1
        outcome = await execute(
            recorded, scenario, ScriptFactory(RERUN_ITERATION, script, mode), children=children,
            handle_signals=False,
        )
        if not _fails(outcome, target):
            progress(f"  try {result.tried}: {why}: no longer fails")
            return False
        if len(outcome.children) == len(result.best.children) and switches(
            script_of(outcome.decisions)
        ) >= switches(script_of(result.best.decisions)):
            progress(f"  try {result.tried}: {why}: fails, but is no smaller")
            return False
        result.best = outcome
        result.log.append(why)
        progress(f"  try {result.tried}: {why}: still fails — kept")
        return True

    progress("dropping children")
    dropped = True
    while dropped and len(result.best.children) > 1:
        dropped = False
        for gone in list(result.best.children):
            children = [c for c in result.best.children if c.child != gone.child]
            slot = {c.child: i for i, c in enumerate(children)}
            script = [(slot[c], a) for c, a in script_of(result.best.decisions) if c in slot]
            if await attempt(children, script, f"without child {gone.child} ({gone.label})"):
                dropped = True
                break

    progress("cutting context switches")
    cut = True
    while cut:
        cut = False
        best_script = script_of(result.best.decisions)
        for candidate in fewer_switches(best_script):
            if switches(candidate) >= switches(best_script):
                continue
            why = f"{switches(best_script)} -> at most {switches(candidate)} switches"
            if await attempt(list(result.best.children), candidate, why):
                cut = True
                break
    return result


def _fails(outcome: Outcome, target: set[str]) -> bool:
    return any(b.invariant in target for b in outcome.failing)
