"""`race-explorer merge TRACE... -o DIR`: the shards of one run as one result.

Each trace's header says what work it did (scenario, its digest, the
explorer's version, the options that decide the work) and which share
(`shard.py`). Traces of different work are refused (exit 2). A shard that is
missing, truncated or has unreadable lines is named, and the rest merged; the
result then covers less than the run asked for (exit 65 unless something
failed: 1). Setup and final reconcile run in every iteration shard: the run's
own are those of the shards that did its first and last iterations, the other
reconciles are extra checks, reported (and failing the merge) but not counted.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.events import CLASSIFICATIONS, Event, IterationFinished, RunFinished, RunStarted
from explorer.junit import JUnitRecorder
from explorer.report import write_report
from explorer.shard import Shard, parse_seeds
from explorer.trace import TraceError, TraceReader

EXIT_FAILED = 1
EXIT_INCOMPLETE = 65  # as `replay` on a trace with unreadable lines: the account lacks a part
_SUMMARY_KINDS = ("run_started", "iteration_finished", "run_finished")


class MergeError(Exception):
    """The traces are not shards of one run (exit 2)."""


@dataclass
class Part:
    """One trace: a shard's share, a seed's run, or a whole run."""

    path: Path
    header: dict[str, Any]
    unit: str  # "shard 2/4", "seed 3", "the run"
    planned: list[int]  # iterations it was to do
    blocks: dict[int, IterationFinished] = field(default_factory=dict)
    started: RunStarted | None = None
    finished: RunFinished | None = None
    warning: str | None = None


@dataclass
class Merged:
    scenario: str
    options: dict[str, Any]
    total: int  # iterations of the run (of each seed's run)
    parts: list[Part]
    notes: list[str]  # what is missing or damaged, one line each
    failing: list[str]  # "iteration 5", "seed 3 iteration 5"
    extra_failing: list[str]  # reconciles and setups beyond the run's own
    counts: dict[str, int]
    verdicts: dict[str, int]

    @property
    def in_run_order(self) -> list[Part]:
        """The parts by seed, then by their first planned iteration."""
        return sorted(self.parts, key=_order)

    @property
    def exit_code(self) -> int:
        if self.failing or self.extra_failing:
            return EXIT_FAILED
        return EXIT_INCOMPLETE if self.notes else 0


def _work(header: dict[str, Any]) -> tuple[Any, ...]:
    return (header.get("scenario"), header.get("scenario_digest"), header.get("explorer"),
            header.get("options"))


def _describe(header: dict[str, Any]) -> str:
    return (f"scenario {header.get('scenario')} (digest {str(header.get('scenario_digest'))[:12]}"
            f"), explorer {header.get('explorer')}, options {header.get('options')}")


def _read(path: Path) -> Part:
    reader = TraceReader(path)
    header = reader.header
    options = header.get("options") or {}
    total = int(options.get("iterations") or 0)
    share = header.get("shard")
    every = list(range(1, total + 1))
    if share and share.get("of") == "iterations":
        shard = Shard(int(share["index"]), int(share["count"]))
        part = Part(path, header, f"shard {shard}", shard.share(every))
    elif options.get("seeds"):
        part = Part(path, header, f"seed {header.get('seed')}", every)
    else:
        part = Part(path, header, "the run", every)
    for event in reader.iter_events(_SUMMARY_KINDS):
        if isinstance(event, RunStarted):
            part.started = event
        elif isinstance(event, IterationFinished):
            part.blocks[event.iteration] = event
        elif isinstance(event, RunFinished):
            part.finished = event
    part.warning = reader.warning
    return part


def _expected_units(first: Part) -> list[str]:
    share = first.header.get("shard")
    options = first.header.get("options") or {}
    if share and share.get("of") == "iterations":
        return [f"shard {i}/{share['count']}" for i in range(1, int(share["count"]) + 1)]
    if options.get("seeds"):
        return [f"seed {s}" for s in parse_seeds(options["seeds"])]
    return ["the run"]


def read_parts(paths: list[Path]) -> tuple[list[Part], list[str]]:
    """The readable traces and a note for each path that is not; MergeError if they disagree."""
    parts: list[Part] = []
    notes: list[str] = []
    for path in paths:
        if not path.is_file():
            notes.append(f"{path}: no such trace (a shard that never uploaded?): left out")
            continue
        try:
            parts.append(_read(path))
        except (TraceError, OSError) as exc:
            notes.append(f"{exc}: left out")
    if not parts:
        raise MergeError("no readable trace among: " + ", ".join(map(str, paths)))
    first = parts[0]
    if "options" not in first.header:
        raise MergeError(f"{first.path}: its header records no options (a trace from before "
                         "`merge` existed): run it again")
    units: dict[str, Path] = {}
    for part in parts:
        if _work(part.header) != _work(first.header):
            raise MergeError(f"{part.path} is not a shard of the same run as {first.path}:\n"
                             f"  {first.path}: {_describe(first.header)}\n"
                             f"  {part.path}: {_describe(part.header)}")
        if not part.unit.startswith("seed") and part.header.get("seed") != first.header.get(
                "seed"):
            raise MergeError(f"{part.path} has seed {part.header.get('seed')}, "
                             f"{first.path} seed {first.header.get('seed')}: "
                             "shards of one run share the seed")
        if (part.header.get("shard") or {}).get("count") != (
                first.header.get("shard") or {}).get("count"):
            raise MergeError(f"{part.path} and {first.path} split the run in different "
                             "numbers of shards")
        if part.unit in units:
            raise MergeError(f"{part.unit} given twice: {units[part.unit]} and {part.path}")
        units[part.unit] = part.path
    for unit in _expected_units(first):
        if unit not in units:
            notes.append(f"{unit}: missing: its iterations are not in this result")
    for part in parts:
        notes.extend(_damage(part))
    return parts, notes


def _damage(part: Part) -> list[str]:
    notes = []
    if part.warning:
        notes.append(part.warning)
    done = [i for i in part.planned if i in part.blocks]
    if part.finished is None:
        lost = [i for i in part.planned if i not in part.blocks]
        notes.append(f"{part.path} ({part.unit}): truncated, it has no end; "
                     f"{len(done)} of its {len(part.planned)} iterations recorded"
                     + (f", not {_ranges(lost)}" if lost else ""))
    elif part.finished.interrupted:
        notes.append(f"{part.path} ({part.unit}): interrupted after {len(done)} of its "
                     f"{len(part.planned)} iterations")
    return notes


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:8]))
    return shown + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")


def _order(part: Part) -> tuple[int, list[int]]:
    return int(part.header.get("seed") or 0), part.planned[:1]


def merge_traces(paths: list[Path]) -> Merged:
    parts, notes = read_parts(paths)
    first = parts[0]
    options = first.header["options"]
    total = int(options.get("iterations") or 0)
    counts: dict[str, int] = dict.fromkeys(CLASSIFICATIONS, 0)
    verdicts = {"clean": 0, "tolerated": 0, "failed": 0}
    failing: list[tuple[int, int, str]] = []  # (seed, block, name): in the run's order
    extra: list[str] = []
    by_seed = first.unit.startswith("seed")
    for part in sorted(parts, key=_order):
        prefix = f"{part.unit} " if by_seed else ""
        for number, block in sorted(part.blocks.items()):
            iteration = 1 <= number <= total
            own = iteration or by_seed or len(parts) == 1 or (
                number == 0 and 1 in part.planned) or (number > total and total in part.planned)
            name = (f"iteration {number}" if iteration else
                    "setup" if number == 0 else "final reconcile")
            failed = any(b.is_failure for b in block.breaks)
            if not own:
                if failed:
                    extra.append(f"{name} of {part.unit} (after its iteration "
                                 f"{part.planned[-1] if part.planned else 0})")
                continue
            if iteration:
                verdicts[block.verdict] += 1
            for brk in block.breaks:
                if brk.classification is not None:
                    counts[brk.classification] += 1
            if failed:
                failing.append((int(part.header.get("seed") or 0), number, prefix + name))
    return Merged(first.header.get("scenario", "?"), options, total, parts, notes,
                  [name for *_, name in sorted(failing)], extra, counts, verdicts)


def summary_lines(merged: Merged) -> list[str]:
    runs = len([p for p in merged.parts if p.unit.startswith("seed")]) or 1
    ran = sum(merged.verdicts.values())
    lines = [f"race-explorer merge: scenario {merged.scenario}, {len(merged.parts)} trace(s), "
             f"{ran} of {merged.total * runs} iterations"]
    for part in merged.in_run_order:
        code = part.finished.exit_code if part.finished else "none (truncated)"
        lines.append(f"  {part.unit}: {part.path} ({len(part.blocks)} blocks, exit {code})")
    lines += [f"{verdict}: {count}" for verdict, count in merged.verdicts.items()]
    lines += [f"{cls} breaks: {count}" for cls, count in merged.counts.items()]
    lines += [f"note: {note}" for note in merged.notes]
    if merged.failing:
        lines.append("failed: " + ", ".join(merged.failing))
    if merged.extra_failing:
        lines.append("also failed (beyond the unsharded run's blocks): "
                     + ", ".join(merged.extra_failing))
    if merged.exit_code == 0:
        lines.append("no unexplained break")
    return lines


def summary_markdown(merged: Merged) -> str:
    """For a CI step summary: a table, then the notes and what failed."""
    rows = [f"## race-explorer: {merged.scenario}", "", "| what | count |", "| --- | ---: |"]
    rows += [f"| {verdict} iterations | {n} |" for verdict, n in merged.verdicts.items()]
    rows += [f"| {cls} breaks | {n} |" for cls, n in merged.counts.items()]
    rows.append("")
    rows += [f"- **failed**: {name}" for name in merged.failing + merged.extra_failing]
    rows += [f"- note: {note}" for note in merged.notes]
    rows += [f"- `{part.path.name}`: {part.unit}" for part in merged.parts]
    return "\n".join(rows) + "\n"


def _junit_suite(part: Part) -> ET.Element:
    """One trace's JUnit test suite, through the JUnit writer's own API (feed, write)."""
    recorder = JUnitRecorder(part.path)
    events: list[Event] = list(TraceReader(part.path).iter_events())
    for event in events:
        recorder(event)
    with tempfile.TemporaryDirectory() as scratch:
        written = Path(scratch) / "junit.xml"
        recorder.write(written)
        suite = ET.parse(written).getroot().find("testsuite")
    assert suite is not None
    suite.set("name", f"{suite.get('name')} ({part.unit})")
    return suite


def write_junit(merged: Merged, path: Path) -> None:
    root = ET.Element("testsuites", name=f"race-explorer: {merged.scenario}")
    for part in merged.in_run_order:
        root.append(_junit_suite(part))
    for total in ("tests", "failures", "errors"):
        root.set(total, str(sum(int(s.get(total, "0")) for s in root)))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


# What a merge writes into its DIR: each file's name and how it is written.
OUTPUTS: dict[str, Callable[[Merged, Path], object]] = {
    "summary.txt": lambda merged, path: path.write_text(
        "\n".join(summary_lines(merged)) + "\n", encoding="utf-8"),
    "summary.md": lambda merged, path: path.write_text(
        summary_markdown(merged), encoding="utf-8"),
    "junit.xml": write_junit,
    "report.html": lambda merged, path: write_report(
        path, [p.path for p in merged.in_run_order], merged.notes),
}
OUTPUT_FILES = tuple(OUTPUTS)


def write_outputs(merged: Merged, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, write in OUTPUTS.items():
        write(merged, out / name)
