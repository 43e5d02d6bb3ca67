"""The iterations so far: number, duration, verdict colour. Picking one shows it.

A replay lists thousands at once: a row's text is only made when it is first drawn, and
every row is known to be one line high, so the list never measures rows it does not draw.
"""

from __future__ import annotations

from rich.style import Style as RichStyle
from textual.content import Content
from textual.geometry import Size
from textual.style import Style
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from explorer.tui.messages import IterationChosen
from explorer.tui.model import IterationSummary

VERDICT_STYLES = {"clean": "green", "tolerated": "yellow", "failed": "bold red", None: "cyan"}
VERDICT_GLYPHS = {"clean": "✓", "tolerated": "≈", "failed": "✗", None: "…"}


def _style(rich: str) -> Style:
    """A rich style as the option list would convert it (terminal colours stay ANSI)."""
    return Style.from_rich_style(RichStyle.parse(rich))


_STYLES = {name: _style(name) for name in {*VERDICT_STYLES.values(), "bold", "dim", ""}}


def summary_prompt(summary: IterationSummary) -> Content:
    # Content, not rich Text: a list of thousands is built and measured without conversion.
    duration = f"{summary.duration:6.2f}s" if summary.duration is not None else "   …   "
    return Content.assemble(
        (f"{VERDICT_GLYPHS.get(summary.verdict, '?')} ",
         _STYLES[VERDICT_STYLES.get(summary.verdict, "")]),
        (f"{summary.label:>9}", _STYLES["bold" if summary.block == "iteration" else "dim"]),
        (f" {duration}", _STYLES["dim"]),
    )


_UNMADE = Content("")  # a row's text until it is first asked for


class _Row(Option):
    """One iteration's row, whose text is made from its summary when first asked for."""

    def __init__(self, summary: IterationSummary) -> None:
        super().__init__(_UNMADE, id=f"it-{summary.iteration}")
        self._summary = summary

    @property
    def prompt(self) -> VisualType:
        if self._prompt is _UNMADE:
            self._prompt = summary_prompt(self._summary)
        return self._prompt


class IterationList(OptionList):
    def __init__(self) -> None:
        super().__init__(id="iterations")
        self.border_title = "Iterations"
        self._shown: list[tuple[int, str | None, float | None]] = []
        self._syncing = False

    def show(self, summaries: dict[int, IterationSummary], current: int | None) -> None:
        wanted = [(s.iteration, s.verdict, s.duration) for _, s in sorted(summaries.items())]
        if wanted != self._shown:
            ordered = [s for _, s in sorted(summaries.items())]
            if len(wanted) < len(self._shown) or any(
                w[0] != s[0] for w, s in zip(wanted, self._shown, strict=False)
            ):
                self.clear_options()  # another run's iterations: start again
                self._shown = []
            for row, (w, s) in enumerate(zip(wanted, self._shown, strict=False)):
                if w != s:  # a verdict or a duration came in: rewrite that row only
                    self.replace_option_prompt_at_index(row, summary_prompt(ordered[row]))
            self.add_options(_Row(s) for s in ordered[len(self._shown) :])
            self._shown = wanted
        if current is not None:
            index = next((i for i, w in enumerate(wanted) if w[0] == current), None)
            if index is not None and index != self.highlighted:
                self._syncing = True
                self.highlighted = index
                self._syncing = False

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Every row is one line (its prompt does not wrap): no need to measure thousands.
        return self.option_count

    def _update_lines(self) -> None:
        """OptionList's own, which measures each new row's height, knowing it is 1."""
        if not self.scrollable_content_region:
            return
        cache = self._line_cache
        new = range(len(cache.lines), self.option_count)
        cache.index_to_line.update(zip(new, new, strict=True))
        cache.heights.update(dict.fromkeys(new, 1))
        cache.lines.extend((index, 0) for index in new)
        size = Size(self.scrollable_content_region.width, len(cache.lines))
        if size == self.virtual_size:
            return
        # Not `self.virtual_size = size`, a layout reactive: a box still growing with its
        # rows is laid out anyway (`add_options` asks), and that pass sizes its scrollbar
        # too; sized here first, against the old height, the bar would show and hide,
        # a layout pass each. A full box keeps its size: only the bar changes.
        self.set_reactive(Widget.virtual_size, size)
        if not self._growing():
            self._scroll_update(size)

    def _growing(self) -> bool:
        """The box wraps its rows (height auto) and has not yet filled the body."""
        parent = self.parent
        return (
            self.styles.auto_dimensions
            and isinstance(parent, Widget)
            and self.outer_size.height < parent.content_size.height
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(IterationChosen(int(event.option.id.removeprefix("it-"))))
