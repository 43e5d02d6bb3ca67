"""The words and colours every face uses: how a child ended, how a block and a break went.

Headless, the account, JUnit and the app say these the same way; a face that
wants a new word adds it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # events.py uses `outcome` too: no import of it at run time
    from explorer.events import Classification, Verdict

VERDICT_STYLES: dict[Verdict, str] = {
    "clean": "green",
    "tolerated": "yellow",
    "failed": "bold red",
}
CLASS_STYLES: dict[Classification, str] = {
    "tolerated": "yellow",
    "healed": "red",
    "persistent": "bold red",
}
# "tolerated" is both a verdict and a class, in one colour.
_STYLES: dict[str, str] = {str(k): v for k, v in [*CLASS_STYLES.items(), *VERDICT_STYLES.items()]}
NOT_RUN = "not run"
STILL_RUNNING = "still running"


def outcome(returncode: int | None, killed: str | None, *, exited: bool = True,
            leftovers: int = 0) -> str:
    """How a child ended: `exit N`, `killed (timeout|fault|interrupt)`, or not yet; and
    how many processes it left running (killed when it exited)."""
    if killed:
        return f"killed ({killed})"
    if not exited:
        return STILL_RUNNING
    left = f", {leftovers} leftover process(es) killed" if leftovers else ""
    return f"exit {returncode}{left}"


def style(word: str | None) -> str:
    """The colour of a verdict or a classification; none for anything else."""
    return _STYLES.get(word or "", "")
