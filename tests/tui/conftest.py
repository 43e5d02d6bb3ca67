from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot

from tests.tui.sample_run import write_trace

SIZE = (150, 44)


def record_calls(
    obj: object, method: str, keep: Callable[..., object] = lambda *args, **kwargs: args
) -> list[object]:
    """Wrap `obj.method` (on the instance) to record what `keep` makes of each call's
    arguments (by default, the positional ones)."""
    calls: list[object] = []
    original = getattr(obj, method)

    def recording(*args: object, **kwargs: object) -> object:
        calls.append(keep(*args, **kwargs))
        return original(*args, **kwargs)

    setattr(obj, method, recording)
    return calls


def record_notifications(app: App[object]) -> list[str]:
    """Each message the app shows as a toast (widgets and screens notify through it)."""
    return record_calls(app, "notify", lambda message, *_, **__: str(message))  # type: ignore[return-value]


def screenshot_text(app: App[object]) -> str:
    """The characters on screen, as the app's screenshot has them (styles dropped)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.fixture
def sample_trace(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "run.jsonl")


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    """Let the app process messages until `condition` holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def run_from_palette(pilot: Pilot[object], typed: str, title: str) -> None:
    """As a person does: ctrl+p, type part of a name, see `title` listed, pick it, enter."""
    from textual.command import Command, CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: CommandPalette.is_open(app), "the command palette")
    await pilot.press(*typed)
    commands = app.screen.query_one(CommandList)

    def listed() -> list[str]:
        options = [commands.get_option_at_index(i) for i in range(commands.option_count)]
        return [str(o.hit.text) for o in options if isinstance(o, Command)]

    await wait_until(pilot, lambda: title in listed(), f"{title!r} among the commands")

    def highlighted() -> str | None:
        index = commands.highlighted
        return None if index is None else listed()[index]

    for _ in range(commands.option_count):
        if highlighted() == title:
            break
        await pilot.press("down")
    assert highlighted() == title, f"{title!r} could not be highlighted in {listed()}"
    await pilot.press("enter")
    await wait_until(pilot, lambda: not CommandPalette.is_open(app), "the palette to close")
