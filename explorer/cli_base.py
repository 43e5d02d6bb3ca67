"""What every command of `race-explorer` shares: the exit codes, a usage error said in one
line, and the app, loaded only when a command asks for it (so headless runs and CI never
load Textual).

Exit codes (the README's table): 0 nothing unexplained broke, 1 something did, 2 usage or
scenario errors and runs that cannot start, 65 a replayed trace had unreadable lines (left
out, named in a warning), 74 the trace cannot be written, 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

EXIT_USAGE = 2
EXIT_TRACE_INCOMPLETE = 65  # sysexits' EX_DATAERR: the input data was (partly) bad
EXIT_INTERRUPTED = 130


def fail(message: str) -> NoReturn:
    click.echo(f"race-explorer: {message}", err=True)
    sys.exit(EXIT_USAGE)


def app_entry(entry: str) -> Any:
    try:
        from explorer.tui import app
    except ImportError as exc:
        fail(f"the interactive app is not available ({exc}); use --headless")
    return getattr(app, entry)
