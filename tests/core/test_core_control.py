"""RunControl: what a face's pause, one-more and resume let the runner do."""

from __future__ import annotations

from explorer.control import RunControl


async def test_one_more_while_paused_starts_exactly_one() -> None:
    control = RunControl()
    control.pause()
    control.one_more()
    assert await control.next_iteration()
    assert control.paused  # the gate shut again behind the one granted iteration
    control.stop()
    assert await control.next_iteration() is False


async def test_resume_forgets_a_one_more_not_yet_used() -> None:
    control = RunControl()
    control.pause()
    control.one_more()
    control.resume()
    assert await control.next_iteration()
    assert not control.paused  # the leftover credit must not pause the run again
