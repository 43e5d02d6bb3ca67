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


if __name__ == "__main__":
    main()
