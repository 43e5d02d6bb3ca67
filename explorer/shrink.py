"""Shrink a failing iteration to a smaller case that still fails the same way.

Like Hypothesis shrinking a counterexample, but for an interleaving: first
drop delay faults, then children (fewer ops), then cut context switches (a shorter script, after
which nobody is preempted, or one child's two runs merged into one). Every
candidate is a real re-execution from the iteration's recorded start; the
smallest one that still breaks one of the original failing invariants wins.
Its own trace records the exact schedule it ran, so it replays exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from explorer.events import ChildSpec, ScheduleDecision
from explorer.rerun import RERUN_ITERATION, Outcome, RecordedIteration, execute, rerun
from explorer.scenario import Scenario
from explorer.scheduling.factory import checkpoint_mode
from explorer.scheduling.script import Script, ScriptFactory, delay_of


def shrunk_path(trace: Path, iteration: int) -> Path:
    """Where `shrink` keeps the smallest failing case of one iteration, beside its trace:
    `replay --why` and the report explain the break from it when it is there."""
    return trace.with_name(f"{trace.stem}.iteration-{iteration}.shrunk.jsonl")


def script_of(decisions: list[ScheduleDecision]) -> Script:
    return [(d.chosen, d.action, d.delay) if d.action == "delay" else (d.chosen, d.action)
            for d in decisions if d.action != "blocked"]


def delays(script: Script) -> int:
    return sum(1 for step in script if step[1] == "delay")


def without_delays(script: Script) -> Iterator[tuple[Script, str]]:
    """Candidate scripts with fewer delay faults: all of them dropped, then each one."""
    held = [i for i, step in enumerate(script) if step[1] == "delay"]
    if len(held) > 1:
        yield [step for step in script if step[1] != "delay"], "every delay dropped"
    for i in held:
        yield script[:i] + script[i + 1:], (f"child {script[i][0]}'s delay of "
                                            f"{delay_of(script[i]):g} s dropped")


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


def fewer_switches(script: Script) -> Iterator[tuple[Script, str]]:
    """Candidate scripts with fewer switches, boldest first, each with how it was made."""
    runs = _runs(script)
    for keep in range(len(runs)):  # stop preempting after the first `keep` runs
        yield ([step for run in runs[:keep] for step in run],
               f"nobody preempted after the first {count(keep, 'run', 'runs')}")
    for i in range(2, len(runs)):  # merge run i into the earlier run of the same child
        if runs[i][0][0] == runs[i - 2][0][0]:
            merged = [*runs[: i - 2], runs[i - 2] + runs[i], runs[i - 1], *runs[i + 1 :]]
            yield ([step for run in merged for step in run],
                   f"child {runs[i][0][0]}'s run {i + 1} joined to its run {i - 1}")


def count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass(frozen=True)
class Attempt:
    """One candidate and what its re-executions said."""

    phase: str  # "children" or "switches"
    size: int  # the candidate's children, or the switches its script allows
    what: str  # the candidate in words
    runs: int  # re-executions it got
    fails: bool  # one of them broke the same invariant
    kept: bool  # it was smaller, so it is the new best
    note: str = ""

    def describe(self, tries: int) -> str:
        if not self.fails:
            return f"tried {self.what}: passes ({self.runs} of {tries} tries)"
        said = f"tried {self.what}: still fails (try {self.runs} of at most {tries})"
        return said + (" — kept" if self.kept else f", {self.note}")


@dataclass
class ShrinkResult:
    recorded: RecordedIteration
    reproduced: Outcome  # the exact rerun the shrinking started from
    best: Outcome
    tries: int = 1  # re-executions a candidate gets before it is said to pass
    tried: int = 0  # re-executions in all
    attempts: list[Attempt] = field(default_factory=list)
    budget_spent: bool = False

    @property
    def shrunk(self) -> bool:
        return self.best is not self.reproduced

    @property
    def log(self) -> list[str]:
        """Each accepted reduction, in words."""
        return [a.what for a in self.attempts if a.kept]

    def conclusions(self) -> list[str]:
        """Why the result is the smallest, in words, as far as the tries show it."""
        children, cut = len(self.best.children), switches(script_of(self.best.decisions))
        fewer = [a for a in self.attempts if a.phase == "children" and a.size == children - 1]
        out = []
        if children == 1:
            out.append("1 child is the smallest there is")
        elif len(fewer) == children and not any(a.fails for a in fewer):
            out.append(f"{children} children is the smallest: each of the {children} "
                       f"candidates with {count(children - 1, 'child', 'children')} passed "
                       f"{self.tries} of {self.tries} tries")
        else:
            out.append(f"{children} children: not every candidate with "
                       f"{count(children - 1, 'child', 'children')} was tried (the budget ran "
                       "out)")
        cuts = [a for a in self.attempts if a.phase == "switches" and a.size < cut]
        if cut == 0:
            out.append("0 context switches is the fewest there is")
        elif cuts and not self.budget_spent and not any(a.kept for a in cuts):
            out.append(f"{cut} context switches is the fewest found: the {len(cuts)} "
                       f"schedules with fewer passed or switched as much anyway "
                       f"({self.tries} tries each)")
        else:
            out.append(f"{cut} context switches: the budget ran out before every schedule with "
                       "fewer was tried")
        return out


async def shrink(
    recorded: RecordedIteration,
    scenario: Scenario,
    *,
    budget: int = 40,
    tries: int = 3,
    progress: Callable[[str], None] = lambda line: None,
) -> ShrinkResult | None:
    """None when the recorded failure does not reproduce (nothing to shrink).

    A candidate that breaks once is kept; one is only said to pass after `tries` clean
    re-executions, so the result does not hang on one lucky run. `budget` counts every
    re-execution."""
    # The same invariant on the same extension: a candidate that breaks it on another one
    # (say, from a state the smaller run reaches differently) is another failure.
    target = {(b.invariant, b.extension) for b in recorded.failing}
    if not target:
        return None
    progress(f"re-running iteration {recorded.iteration} under its recorded schedule")
    reproduced = await rerun(recorded, scenario)
    if reproduced.interrupted:  # the rerun took the Ctrl-C as its own: it ends the shrink too
        raise KeyboardInterrupt
    if not _fails(reproduced, target):
        return None
    progress(f"  it fails the same way with {len(reproduced.children)} children and "
             f"{switches(script_of(reproduced.decisions))} context switches")
    result = ShrinkResult(recorded, reproduced, reproduced, tries=tries)
    mode = checkpoint_mode(recorded.run.checkpoints)

    async def attempt(phase: str, size: int, children: list[ChildSpec], script: Script,
                      what: str) -> bool:
        runs = 0
        outcome = None
        while runs < tries:
            if result.tried >= budget:
                result.budget_spent = True
                progress(f"tried {what}: not settled, the budget of {budget} re-executions "
                         "is spent")
                return False
            result.tried += 1
            runs += 1
            outcome = await execute(
                recorded, scenario, ScriptFactory(RERUN_ITERATION, script, mode), children=children,
                handle_signals=False,
            )
            if _fails(outcome, target):
                break
        else:
            done = Attempt(phase, size, what, runs, fails=False, kept=False)
            result.attempts.append(done)
            progress(done.describe(tries))
            return False
        assert outcome is not None
        made, was = script_of(outcome.decisions), script_of(result.best.decisions)
        smaller = (len(outcome.children), delays(made), switches(made)) < (
            len(result.best.children), delays(was), switches(was))
        done = Attempt(phase, size, what, runs, fails=True, kept=smaller,
                       note="" if smaller else f"but it ran with {switches(made)} switches "
                       "anyway: no smaller")
        result.attempts.append(done)
        progress(done.describe(tries))
        if smaller:
            result.best = outcome
        return smaller

    # First, as every later re-execution is quicker without them: a delay fault the
    # failure does not need is one hold fewer to explain.
    cut = True
    while cut:
        cut = False
        best_script = script_of(result.best.decisions)
        for candidate, how in without_delays(best_script):
            what = f"{count(delays(candidate), 'delay', 'delays')} ({how})"
            if await attempt("delays", delays(candidate), list(result.best.children),
                             candidate, what):
                cut = True
                break

    dropped = True
    while dropped and len(result.best.children) > 1:
        dropped = False
        for gone in list(result.best.children):
            children = [c for c in result.best.children if c.child != gone.child]
            slot = {c.child: i for i, c in enumerate(children)}
            script: Script = [(slot[step[0]], *step[1:]) for step in  # type: ignore[misc]
                              script_of(result.best.decisions) if step[0] in slot]
            what = f"{count(len(children), 'child', 'children')} (without {gone.label})"
            if await attempt("children", len(children), children, script, what):
                dropped = True
                break

    cut = True
    while cut:
        cut = False
        best_script = script_of(result.best.decisions)
        for candidate, how in fewer_switches(best_script):
            if switches(candidate) >= switches(best_script):
                continue
            what = (f"at most {count(switches(candidate), 'context switch', 'context switches')} "
                    f"(from {switches(best_script)}: {how})")
            if await attempt("switches", switches(candidate), list(result.best.children),
                             candidate, what):
                cut = True
                break
    return result


def _fails(outcome: Outcome, target: set[tuple[str, str | None]]) -> bool:
    return any((b.invariant, b.extension) in target for b in outcome.failing)
