"""The serial-equivalence search with the reference CLI's model, on hand-made histories."""

from __future__ import annotations

import json
from functools import partial

from explorer.events import Break
from explorer.invariants import Transcript
from explorer.outcomes import History, Span
from explorer.serial import load_model, serializable
from explorer.snapshot import Snapshot
from tests.core.core_helpers import REPO_ROOT, reference_snapshot

MODEL = load_model("lifecycle.model", [REPO_ROOT / "fixtures"])
CHECK = partial(serializable, model=MODEL)
ALPHA, BETA = "@stress/alpha", "@stress/beta"
ARGV = {
    "pull alpha": ("extension", "pull", f"{ALPHA}@1.0.0"),
    "pull beta": ("extension", "pull", BETA),
    "rm alpha": ("extension", "rm", ALPHA),
    "update": ("extension", "update"),
}


def stores(**installed: str) -> Snapshot:
    names = {"alpha": ALPHA, "beta": BETA}
    return reference_snapshot(lockfile=json.dumps({names[k]: {"version": v, "files": []}
                                                   for k, v in installed.items()}))


def judge(start: Snapshot, end: Snapshot,
          *ops: tuple[str, int, list[str], float, float]) -> list[Break]:
    """Ops as (label, exit code, lines, started, ended)."""
    transcripts = tuple(Transcript(i, label, tuple(lines), code)
                        for i, (label, code, lines, _, _) in enumerate(ops))
    spans = {i: Span(("python", "-m", "lifecycle", *ARGV[label]), t0, t1)
             for i, (label, _, _, t0, t1) in enumerate(ops)}
    return list(CHECK(end, History(transcripts, spans, start)))


PULLED = ["Pulled @stress/alpha@1.0.0 (2 files)"]
REMOVED = ["Removed @stress/alpha@1.0.0"]


def test_overlapping_ops_may_be_explained_in_either_order() -> None:
    assert judge(stores(alpha="1.0.0"), stores(),
                 ("pull alpha", 0, PULLED, 0, 3), ("rm alpha", 0, REMOVED, 1, 2)) == []


def test_an_op_that_ended_before_another_began_comes_first() -> None:
    # The same reports explain pull → rm, but the rm exited before the pull started.
    [brk] = judge(stores(alpha="1.0.0"), stores(),
                  ("pull alpha", 0, PULLED, 2, 3), ("rm alpha", 0, REMOVED, 0, 1))
    assert brk.message == (
        "no serial order of the 2 ops explains what each reported and the final state; every "
        "op reports as the model expects in the order rm alpha → pull alpha, but it leaves "
        "{@stress/alpha@1.0.0} where the stores have {}")
    assert brk.extension == ALPHA


def test_a_documented_partial_install_is_explained() -> None:
    partial = ["Install partially applied for @stress/beta — files extracted but the catalog "
               "write failed (database is locked); retry to reconcile"]
    assert judge(stores(), stores(beta="1.0.0"), ("pull beta", 1, partial, 0, 1)) == []


def test_an_update_that_skips_a_name_removed_meanwhile_is_explained() -> None:
    update = ["@stress/alpha was removed meanwhile; skipped", "@stress/beta is up to date (1.0.0)"]
    assert judge(stores(alpha="1.0.0", beta="1.0.0"), stores(beta="1.0.0"),
                 ("update", 0, update, 0, 3), ("rm alpha", 0, REMOVED, 1, 2)) == []


def test_a_block_with_a_child_the_explorer_killed_is_not_judged() -> None:
    transcripts = (Transcript(0, "rm alpha", (), -9),)
    spans = {0: Span(("extension", "rm", ALPHA), 0, 1, killed="fault")}
    assert CHECK(stores(beta="1.0.0"), History(transcripts, spans, stores(alpha="1.0.0"))) == []


def test_six_overlapping_ops_with_no_explanation_name_the_closest_order() -> None:
    ops = [("pull beta", 0, ["Pulled @stress/beta@1.0.0 (1 files)"], 0, 9)] * 5
    ops.append(("rm alpha", 0, REMOVED, 0, 9))
    [brk] = judge(stores(alpha="1.0.0"), stores(alpha="2.0.0"), *ops)
    assert "leaves {@stress/beta@1.0.0} where the stores have {@stress/alpha@2.0.0}" in brk.message
