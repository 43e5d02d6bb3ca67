"""Render the README's screenshots of the real swamp CLI from a recorded trace.

    python screenshots/swamp_screenshots.py                  # from screenshots/swamp-trace.jsonl
    python screenshots/swamp_screenshots.py --from RUN.jsonl --iteration N
        # first cut RUN.jsonl down to its setup, iteration N and the reconcile

The trace is a real run of `scenarios/swamp.toml` (four real Deno processes, syscall
checkpoints, PCT): recording one takes minutes and the swamp CLI (`make swamp`), so the
cut trace is kept in the repo and rendering needs neither.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from make_screenshots import shoot_live, shoot_replay

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from explorer.events import ChildExited, Event  # noqa: E402
from explorer.tui.app import load_replay  # noqa: E402
from explorer.tui.history import History, Position, is_break  # noqa: E402

TRACE = HERE / "swamp-trace.jsonl"
PREFIX = "swamp-"


def cut(source: Path, iteration: int, out: Path) -> None:
    """Keep the header, the setup, one iteration, the reconcile and the run's end.

    The repo archives (for rerun and shrink, which need the full trace) are dropped:
    nothing on screen shows them, and they are most of a block's bytes.
    """
    kept: list[str] = []
    reconcile: int | None = None
    with source.open(encoding="utf-8") as lines:
        kept.append(next(lines).rstrip("\n"))  # the trace's header
        for line in lines:
            data = json.loads(line)
            if data.get("kind") == "iteration_started" and data.get("block") == "reconcile":
                reconcile = data["iteration"]
            if data.get("iteration", 0) not in (0, iteration, reconcile):
                continue
            if data.get("archive"):
                data["archive"] = None
            kept.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")


def moments(history: History) -> tuple[Position, Position]:
    """The first verdict break (not a check still in flux), and the moment before it when
    a child of that iteration died (the live shot: four real children, one just failed)."""
    for n in history.iterations:
        events: list[Event] = history.events(n)
        verdict = next((i for i, e in enumerate(events) if is_break(e)), None)
        if verdict is None:
            continue
        died = next((i for i, e in enumerate(events[:verdict])
                     if isinstance(e, ChildExited) and e.returncode != 0), verdict)
        return Position(n, verdict), Position(n, died)
    raise SystemExit(f"{TRACE.name}: no break to show")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a full trace to cut first")
    parser.add_argument("--iteration", type=int, help="the failing iteration to keep")
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.source is not None:
        if args.iteration is None:
            parser.error("--from needs --iteration")
        cut(args.source, args.iteration, args.trace)
    history = load_replay(args.trace).history
    verdict, died = moments(history)
    asyncio.run(shoot_live(history, args.out, source=args.trace.name, prefix=PREFIX,
                           stop=died, tab="tree"))
    asyncio.run(shoot_replay(args.trace, args.out, prefix=PREFIX, help_screen=False, at=verdict))
    for name in ("live", "break", "replay", "timeline"):
        print(args.out / f"{PREFIX}{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
