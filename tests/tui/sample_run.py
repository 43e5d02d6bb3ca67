"""A realistic recorded run, built by hand, for the app's tests and screenshots.

Setup, three iterations of the seed's four children and the reconcile. Iteration 2
tears the lockfile (a persistent `lockfile_parses` break, while the quiescent
catalog check is in flux); iteration 3 leaves a partially applied install that
the catalog check reports and the classifier tolerates.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from explorer.events import (
    Break,
    CatalogRow,
    CheckpointReached,
    ChildExited,
    ChildOutput,
    ChildSpec,
    ChildStarted,
    Event,
    FileChanged,
    InvariantChecked,
    InvariantSpec,
    IterationFinished,
    IterationStarted,
    RunFinished,
    RunStarted,
    StateSnapshot,
)
from explorer.trace import make_header

REPO = "/tmp/race-explorer/run/repo"
LOCKFILE = "extensions/models/upstream_extensions.json"
CLI = ["python", "-m", "lifecycle", "--repo-dir", REPO]
OPS = [
    ChildSpec(0, "pull @stress/alpha@1.0.0", [*CLI, "extension", "pull", "@stress/alpha@1.0.0"]),
    ChildSpec(1, "pull @stress/beta", [*CLI, "extension", "pull", "@stress/beta"]),
    ChildSpec(2, "rm @stress/alpha", [*CLI, "extension", "rm", "@stress/alpha"]),
    ChildSpec(3, "update", [*CLI, "extension", "update"]),
]
INVARIANTS = [
    InvariantSpec("lockfile_parses", "always"),
    InvariantSpec("catalog_matches_lockfile", "quiescent"),
    InvariantSpec("files_match_lockfile", "quiescent"),
    InvariantSpec("no_duplicate_type", "quiescent"),
    InvariantSpec("no_lock_exhaustion", "quiescent"),
    InvariantSpec("reconciled_state_consistent", "final"),
]
SCENARIO = "default"
SEED = 7

_FILES = {
    "@stress/alpha": {
        "1.0.0": ["@stress/alpha/models/alpha_model.json", "@stress/alpha/README.md"],
        "2.0.0": ["@stress/alpha/models/alpha_model.json", "@stress/alpha/README.md"],
    },
    "@stress/beta": {"1.0.0": ["@stress/beta/models/beta_model.json"]},
}


def _entry(name: str, version: str) -> dict[str, object]:
    return {
        "version": version,
        "pulledAt": "2026-01-01T00:00:00Z",
        "files": _FILES[name][version],
        "checksum": hashlib.sha256(f"{name}@{version}".encode()).hexdigest()[:16],
    }


def _lockfile(installed: dict[str, str]) -> str:
    return json.dumps({n: _entry(n, v) for n, v in sorted(installed.items())}, indent=2)


def _rows(installed: dict[str, str], tombstoned: dict[str, str] | None = None) -> list[CatalogRow]:
    rows = []
    for state, table in (("Indexed", installed), ("Tombstoned", tombstoned or {})):
        for name, version in sorted(table.items()):
            short = name.split("/")[1]
            rows.append(
                CatalogRow(
                    name,
                    version,
                    "model",
                    f"@stress/{short}-model",
                    f"{name}/models/{short}_model.json",
                    state,
                )
            )
    return rows


def _files(installed: dict[str, str]) -> list[str]:
    return sorted(f for n, v in installed.items() for f in _FILES[n][v])


class _Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.t = 0.0
        self.iteration = 0

    def add(self, event_type: type[Event], dt: float = 0.01, **fields: object) -> None:
        self.t = round(self.t + dt, 4)
        if event_type not in (RunStarted, RunFinished):
            fields.setdefault("iteration", self.iteration)
        self.events.append(event_type(t=self.t, **fields))  # type: ignore[arg-type]

    def snapshot(
        self,
        phase: str,
        installed: dict[str, str],
        lockfile: str | None = None,
        tombstoned: dict[str, str] | None = None,
    ) -> None:
        self.add(
            StateSnapshot,
            phase=phase,
            lockfile=lockfile if lockfile is not None else _lockfile(installed),
            catalog=_rows(installed, tombstoned),
            files=_files(installed),
        )

    def checks(
        self,
        phase: str,
        breaks: dict[str, list[Break]] | None = None,
        only: tuple[str, ...] | None = None,
    ) -> None:
        for spec in INVARIANTS:
            if only is not None and spec.name not in only:
                continue
            if spec.when == "final" and phase != "final":
                continue
            self.add(
                InvariantChecked,
                invariant=spec.name,
                when=spec.when,
                phase=phase,
                breaks=(breaks or {}).get(spec.name, []),
            )

    def child(self, slot: int, pid: int) -> None:
        spec = OPS[slot]
        self.add(ChildStarted, child=slot, label=spec.label, argv=spec.argv, pid=pid)

    def out(self, slot: int, line: str, stream: str = "stdout", dt: float = 0.01) -> None:
        self.add(ChildOutput, dt, child=slot, stream=stream, line=line)

    def at(self, slot: int, name: str) -> None:
        self.add(CheckpointReached, child=slot, name=name)


def _iteration(rec: _Recorder, n: int, outcome: str) -> None:
    rec.iteration = n
    start = rec.t
    rec.add(IterationStarted, block="iteration", children=OPS)
    before = {"@stress/alpha": "1.0.0"}
    rec.snapshot("start", before)
    for slot in range(4):
        rec.child(slot, 4100 + n * 10 + slot)
    rec.at(0, "lock_acquired")
    rec.out(0, "Pulling @stress/alpha@1.0.0 from the registry")
    rec.at(2, "rm_catalog_tombstoned")
    rec.out(1, "Pulling @stress/beta@1.0.0 from the registry")
    rec.at(1, "fs_written")
    rec.add(
        FileChanged,
        changes=[("added", ".swamp/pulled-extensions/@stress/beta/models/beta_model.json")],
    )
    rec.out(3, "Checking 1 extension for updates")
    rec.out(3, "@stress/alpha 1.0.0 -> 2.0.0")
    during = {"@stress/alpha": "1.0.0", "@stress/beta": "1.0.0"}
    breaks: dict[str, list[Break]] = {}
    if outcome == "torn":
        torn = _lockfile(during)[:97]
        rec.at(1, "lockfile_written")
        rec.add(FileChanged, changes=[("modified", LOCKFILE)])
        rec.snapshot("live", during, lockfile=torn)
        rec.add(
            InvariantChecked,
            invariant="lockfile_parses",
            when="always",
            phase="live",
            breaks=[
                Break(
                    "lockfile_parses",
                    "lockfile is not valid JSON: Unterminated string "
                    "starting at line 4 column 19 (char 85)",
                )
            ],
        )
        rec.add(
            InvariantChecked,
            invariant="catalog_matches_lockfile",
            when="quiescent",
            phase="live",
            breaks=[
                Break(
                    "catalog_matches_lockfile",
                    "@stress/beta@1.0.0 is in the lockfile but has no Indexed catalog row",
                    "@stress/beta",
                )
            ],
        )
        rec.out(1, "Could not parse upstream_extensions.json", "stderr")
        rec.add(ChildExited, child=1, returncode=1)
        breaks["lockfile_parses"] = [
            Break(
                "lockfile_parses",
                "lockfile is not valid JSON: Unterminated string starting "
                "at line 4 column 19 (char 85)",
                None,
                "persistent",
            )
        ]
    else:
        rec.at(1, "lockfile_written")
        rec.add(FileChanged, changes=[("modified", LOCKFILE)])
        rec.snapshot("live", during)
        rec.add(
            InvariantChecked,
            invariant="catalog_matches_lockfile",
            when="quiescent",
            phase="live",
            breaks=[
                Break(
                    "catalog_matches_lockfile",
                    "@stress/beta@1.0.0 is in the lockfile but has no Indexed catalog row",
                    "@stress/beta",
                )
            ],
        )
        rec.at(1, "catalog_commit")
        rec.out(1, "Installed @stress/beta@1.0.0")
        rec.add(ChildExited, child=1, returncode=0)
    for i in range(12):
        rec.out(3, f"  fetching chunk {i + 1}/12 of @stress/alpha@2.0.0", dt=0.002)
    rec.at(0, "catalog_begin")
    rec.out(0, "Installed @stress/alpha@1.0.0")
    rec.add(ChildExited, child=0, returncode=0)
    rec.at(2, "rm_lockfile_removed")
    rec.add(
        FileChanged,
        changes=[
            ("deleted", ".swamp/pulled-extensions/@stress/alpha/README.md"),
            ("modified", LOCKFILE),
        ],
    )
    rec.out(2, "Removed @stress/alpha")
    rec.add(ChildExited, child=2, returncode=0)
    after = {"@stress/beta": "1.0.0"}
    if outcome == "partial":
        rec.out(
            3,
            "Install partially applied for @stress/alpha — files extracted but the "
            "catalog write failed (database is locked); retry to reconcile",
            "stderr",
        )
        rec.add(ChildExited, child=3, returncode=1)
        after = {"@stress/alpha": "2.0.0", "@stress/beta": "1.0.0"}
        rec.snapshot("quiescent", after, tombstoned={"@stress/alpha": "1.0.0"})
        partial = Break(
            "catalog_matches_lockfile",
            "@stress/alpha@2.0.0 is in the lockfile but has no Indexed catalog row",
            "@stress/alpha",
            "tolerated",
        )
        rec.checks("quiescent", {"catalog_matches_lockfile": [partial]})
        breaks["catalog_matches_lockfile"] = [partial]
    else:
        rec.out(3, "Updated @stress/alpha to 2.0.0")
        rec.add(ChildExited, child=3, returncode=0)
        rec.snapshot("quiescent", after)
        rec.checks("quiescent", breaks)
    verdict = "failed" if outcome == "torn" else "tolerated" if outcome == "partial" else "clean"
    all_breaks = [b for bs in breaks.values() for b in bs]
    rec.add(
        IterationFinished,
        duration=round(rec.t - start + 0.01, 4),
        verdict=verdict,
        breaks=all_breaks,
    )


def sample_events() -> list[Event]:
    rec = _Recorder()
    rec.add(
        RunStarted,
        scenario=SCENARIO,
        scenario_path=None,
        seed=SEED,
        iterations=3,
        ops=OPS,
        invariants=INVARIANTS,
        repo_dir=REPO,
        watched=["extensions/models", ".swamp"],
        profile="swamp-w2",
        bugs=["torn_lockfile_write"],
        strategy="random",
    )
    rec.add(IterationStarted, block="setup", children=[ChildSpec(0, "init", [*CLI, "init"])])
    rec.add(ChildStarted, child=0, label="init", argv=[*CLI, "init"], pid=4000)
    rec.out(0, "Initialised repository")
    rec.add(ChildExited, child=0, returncode=0)
    rec.snapshot("start", {"@stress/alpha": "1.0.0"})
    rec.add(IterationFinished, duration=0.05, verdict="clean", breaks=[])
    _iteration(rec, 1, "clean")
    _iteration(rec, 2, "torn")
    _iteration(rec, 3, "partial")
    rec.iteration = 4
    start = rec.t
    rec.add(IterationStarted, block="reconcile", children=[OPS[3]])
    rec.child(3, 4200)
    rec.out(3, "Updated @stress/alpha to 2.0.0")
    rec.add(ChildExited, child=3, returncode=0)
    rec.snapshot("final", {"@stress/alpha": "2.0.0", "@stress/beta": "1.0.0"})
    rec.checks("final")
    rec.add(IterationFinished, duration=round(rec.t - start, 4), verdict="clean", breaks=[])
    rec.add(
        RunFinished,
        iterations=3,
        counts={"tolerated": 1, "healed": 0, "persistent": 1},
        exit_code=1,
    )
    return rec.events


def write_trace(path: Path, events: list[Event] | None = None) -> Path:
    """The trace format: a header object, then one event a line."""
    events = events if events is not None else sample_events()
    header = make_header(
        scenario=SCENARIO, scenario_path=None, seed=SEED, argv=["race-explorer", "--seed", "7"]
    )
    header["started_at"] = "2026-01-01T00:00:00.000+00:00"  # screenshots stay byte-identical
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header) + "\n")
        for event in events:
            fh.write(event.to_json() + "\n")
    return path
