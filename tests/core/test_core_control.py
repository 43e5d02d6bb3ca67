"""RunControl: what a face's pause, one-more and resume let the runner do."""

from __future__ import annotations

import asyncio

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


async def test_one_decision_while_stepping_lets_exactly_one_through() -> None:
    control = RunControl()
    await control.next_decision()  # not stepping: decisions flow
    control.hold_decisions()
    assert control.stepping
    control.one_decision()
    await control.next_decision()
    assert control.stepping  # the gate shut again behind the one granted decision
    control.release_decisions()
    await control.next_decision()
    assert not control.stepping


async def test_stop_releases_held_decisions() -> None:
    control = RunControl()
    control.hold_decisions()
    waiting = asyncio.ensure_future(control.next_decision())
    control.stop()  # the run is ending: a parked child must not wait for a decision
    await asyncio.wait_for(waiting, 5)
    assert not control.stepping and control.held_seconds() >= 0


async def test_one_decision_outside_stepping_grants_nothing() -> None:
    control = RunControl()
    control.one_decision()  # not stepping (say the run just stopped): no credit is left
    await asyncio.wait_for(control.next_decision(), 5)
    await asyncio.wait_for(control.next_decision(), 5)  # a used credit must not shut the gate
    assert not control.stepping
