"""`python -m explorer` and `race-explorer`: the CLI, with Ctrl-C covered from the start.

The CLI's imports take a few hundred milliseconds; a Ctrl-C meanwhile must end the
process like any other interruption (exit 130, no traceback), so the import is inside.
"""

import sys


def main() -> None:
    try:
        from explorer.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        sys.exit(130)  # EXIT_INTERRUPTED, which lives in the module not yet imported
    finally:
        # CPython 3.11 remembers a KeyboardInterrupt that left code run by exec() of a string
        # (dataclasses and namedtuples build their methods so, while the CLI imports) as
        # "unhandled", even once caught: at exit, `python -m` then kills itself with SIGINT
        # instead of exiting 130. Each exec of a string clears that mark before it runs.
        exec("")


if __name__ == "__main__":
    main()
