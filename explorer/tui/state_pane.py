"""The watched state: lockfile (what changed highlighted), catalog rows, tree, file feed."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from explorer.events import StateSnapshot
from explorer.tui.line_view import LineView, printable
from explorer.tui.messages import StateUpdated
from explorer.tui.state_view import StateView


def lockfile_text(state: StateView) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    snap = state.snapshot
    if snap is not None:
        text.append(f"as of {snap.t:.3f}s ({snap.phase})\n", style="dim")
    for line, changed in state.lockfile_lines():
        if changed:
            text.append("▌", style="bold yellow")
            text.append(line + "\n", style="bold yellow")
        else:
            text.append(" " + line + "\n")
    text.rstrip()
    return text


def catalog_table(snap: StateSnapshot | None) -> Table | Text:
    if snap is None or not snap.catalog:
        return Text("(no catalog rows)", style="dim")
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    for column in ("name", "version", "type", "state"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for row in snap.catalog:
        style = "dim" if row.state == "Tombstoned" else ""
        table.add_row(row.name, row.version, row.type, row.state, style=style)
    return table


def files_tree(snap: StateSnapshot | None) -> Tree | Text:
    if snap is None or not snap.files:
        return Text("(no pulled extensions)", style="dim")
    root = Tree("pulled-extensions/", guide_style="dim")
    nodes: dict[tuple[str, ...], Tree] = {(): root}
    for path in snap.files:
        parts = tuple(path.split("/"))
        for depth in range(1, len(parts) + 1):
            key = parts[:depth]
            if key not in nodes:
                is_dir = depth < len(parts)
                label = key[-1] + ("/" if is_dir else "")
                nodes[key] = nodes[key[:-1]].add(label, style="bold" if is_dir else "")
    return root


def tree_lines(files: Iterable[str]) -> int:
    """Lines `files_tree` takes: the root, and one for each distinct directory or file."""
    parts = {
        tuple(path.split("/")[:depth]) for path in files for depth in range(1, path.count("/") + 2)
    }
    return 1 + len(parts)


_CHANGE_STYLES = {"added": "green", "modified": "yellow", "deleted": "red"}


def feed_line(t: float, change: str, path: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{t:8.3f}s ", style="dim")
    text.append(f"{change:<8} ", style=_CHANGE_STYLES.get(change, ""))
    text.append(printable(path))
    return text


class FeedView(LineView):
    """The file changes, newest first, drawn a visible row at a time."""

    follow_end = False

    def __init__(self) -> None:
        super().__init__(id="changes")
        self.state: StateView | None = None

    def show(self, state: StateView) -> None:
        self.state = state
        self._strips.clear()  # newest first: every row moves down as one arrives
        self.sync()

    def row_count(self) -> int:
        return max(1, len(self.state.feed)) if self.state is not None else 1

    def row_text(self, row: int, width: int) -> Text:
        if self.state is None or not self.state.feed:
            return Text("(no file changes yet)", style="dim")
        return feed_line(*self.state.feed[-1 - row])

    def plain_lines(self) -> list[str]:
        return [self.row_text(row, 0).plain for row in range(self.row_count())]


def feed_text(state: StateView) -> Text:
    if not state.feed:
        return Text("(no file changes yet)", style="dim")
    text = Text(no_wrap=True, overflow="ellipsis")
    styles = {"added": "green", "modified": "yellow", "deleted": "red"}
    for t, change, path in reversed(state.feed):
        text.append(f"{t:8.3f}s ", style="dim")
        text.append(f"{change:<8} ", style=styles.get(change, ""))
        text.append(path + "\n")
    text.rstrip()
    return text


class StatePane(Vertical):
    def __init__(self) -> None:
        super().__init__(id="state")
        self.shown_version = -1
        self.lockfile_plain = ""
        self.state: StateView | None = None
        self._shown: dict[str, object] = {}  # per tab, what it shows (to skip no-op updates)
        self._heights: dict[str, int] = {}
        self.feed = FeedView()

    def compose(self) -> ComposeResult:
        with TabbedContent():
            yield from self._tabs()

    def _tabs(self) -> ComposeResult:
        with TabPane("Lockfile", id="tab-lockfile"), VerticalScroll():
            yield Static(id="lockfile")
        with TabPane("Catalog", id="tab-catalog"), VerticalScroll():
            yield Static(id="catalog")
        with TabPane("Tree", id="tab-tree"), VerticalScroll():
            yield Static(id="tree")
        with TabPane("Changes", id="tab-changes"):
            yield self.feed

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"

    def on_state_updated(self, message: StateUpdated) -> None:
        self.state = message.state
        self.shown_version = message.version
        lockfile = lockfile_text(message.state)
        self.lockfile_plain = lockfile.plain
        self._render_tab(self.query_one(TabbedContent).active, lockfile)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.state is not None and event.pane.id:
            self._render_tab(event.pane.id)

    def _render_tab(self, tab: str, lockfile: Text | None = None) -> None:
        """Render only the visible tab, and only when its content changed.

        A Static whose height changes costs a layout pass of the whole screen; snapshots
        arrive many times an iteration, mostly with nothing new in a given tab.
        """
        state = self.state
        if state is None:
            return
        snap = state.snapshot
        content: Text | Table | Tree
        if tab == "tab-lockfile":
            content = lockfile if lockfile is not None else lockfile_text(state)
            key: object = content.plain
            height = len(content.plain.splitlines())
        elif tab == "tab-catalog":
            content, key = catalog_table(snap), tuple(snap.catalog) if snap else ()
            height = len(snap.catalog) + 1 if snap else 1
        elif tab == "tab-tree":
            content, key = files_tree(snap), tuple(snap.files) if snap else ()
            height = tree_lines(snap.files if snap else ())
        elif tab == "tab-changes":
            last = state.feed[-1] if state.feed else None
            if self._shown.get(tab) != (key := (id(state), len(state.feed), last)):
                self._shown[tab] = key
                self.feed.show(state)
            return
        else:
            return
        if self._shown.get(tab) != key:
            # A layout pass repaints the whole screen: ask for one only when the height
            # (lines of content) changes, not for every new value in the same rows.
            before = self._heights.get(tab)
            self._shown[tab], self._heights[tab] = key, height
            static = self.query_one(f"#{tab.removeprefix('tab-')}", Static)
            static.update(content, layout=height != before)
