"""Independent runs of a calibration, spread over processes: each result printed as a JSON
line as it comes (and appended to a results file), so a stopped run keeps what it did."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any


def run_cells(run: Callable[..., dict[str, Any]], cells: Sequence[tuple[Any, ...]], jobs: int,
              out: Path | None) -> list[dict[str, Any]]:
    """`run(*cell)` for every cell, `jobs` processes at a time; the results in finishing order."""
    print(f"{len(cells)} runs, {jobs} at a time", flush=True)
    results = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(run, *cell) for cell in cells]):
            result = future.result()
            results.append(result)
            print(json.dumps(result), flush=True)
            if out:
                with out.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(result) + "\n")
    return results


def add_result_options(parser: argparse.ArgumentParser) -> None:
    """--out (where each result is appended) and --table (only print the table of these)."""
    parser.add_argument("--out", type=Path, help="append each cell's result here (JSON lines)")
    parser.add_argument("--table", nargs="+", type=Path, metavar="RESULTS",
                        help="only print the table from these result files")


def read_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
