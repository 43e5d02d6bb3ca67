"""The swamp scenario's plugin invariants: found beside the scenario, kept with the
swamp fixtures (fixtures/swamp/plugins.py), whose package this puts on the path."""

import sys
from pathlib import Path

FIXTURES = str(Path(__file__).resolve().parents[1] / "fixtures")
if FIXTURES not in sys.path:
    sys.path.append(FIXTURES)

from swamp.plugins import (  # noqa: E402
    no_duplicate_type_error,
    no_lock_exhaustion,
    tree_matches_lockfile,
)

__all__ = ["no_duplicate_type_error", "no_lock_exhaustion", "tree_matches_lockfile"]
