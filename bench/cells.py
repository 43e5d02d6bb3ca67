"""Independent runs of a calibration, spread over processes: each result printed as a JSON
line as it comes (and appended to a results file), so a stopped run keeps what it did."""

from __future__ import annotations

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
