"""The watched state, by the stores' declared names: documents (what changed highlighted),
database rows, trees, and the file feed."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from explorer.events import StoreState
from explorer.tui.line_view import LineView, printable
from explorer.tui.messages import StateUpdated
from explorer.tui.state_view import DOCUMENT_KINDS, StateView

SHOWN_COLUMNS = ("name", "version", "type", "state")  # when a table has them; else its first 4


def lockfile_text(state: StateView) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    snap = state.snapshot
    if snap is not None:
        text.append(f"as of {snap.t:.3f}s ({snap.phase})\n", style="dim")
    for line, changed in state.document_lines():
        if changed:
            text.append("▌", style="bold yellow")
            text.append(line + "\n", style="bold yellow")
        else:
            text.append(" " + line + "\n")
    text.rstrip()
    return text


def store_rows(stores: list[StoreState]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows) of each table the sqlite stores recorded, as strings."""
    out = []
    for store in stores:
        for item in store.items:
            for t in item.tables:
                shown = [c for c in SHOWN_COLUMNS if c in t.columns] or t.columns[:4]
                index = [t.columns.index(c) for c in shown]
                title = store.name if t.name == "query" else f"{store.name}.{t.name}"
                out.append((title, shown, [[str(row[i]) for i in index] for row in t.rows]))
    return out


def catalog_table(stores: list[StoreState]) -> Table | Text:
    tables = store_rows(stores)
    if not any(rows for _, _, rows in tables):
        names = ", ".join(s.name for s in stores) or "sqlite store"
        return Text(f"(no {names} rows)", style="dim")
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    title, columns, _ = tables[0]
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for name, _, rows in tables:
        if len(tables) > 1:
            table.add_row(Text(name, style="bold"))
        for row in rows:
            style = "dim" if "Tombstoned" in row else ""
            table.add_row(*row, style=style)
    return table


def tree_files(stores: list[StoreState]) -> list[str]:
    """The trees' files, each under its store's name when there are several."""
    items = [(s.name, i) for s in stores for i in s.items]
    if len(items) == 1:
        return items[0][1].files
    return [f"{name}:{item.path}/{f}" for name, item in items for f in item.files]


def files_tree(stores: list[StoreState]) -> Tree | Text:
    files = tree_files(stores)
    if not files:
        return Text(f"(no files under {', '.join(s.name for s in stores) or 'a tree'})",
                    style="dim")
    items = [i for s in stores for i in s.items]
    label = items[0].path.rstrip("/").rsplit("/", 1)[-1] + "/" if len(items) == 1 else ""
    root = Tree(label or "trees", guide_style="dim")
    nodes: dict[tuple[str, ...], Tree] = {(): root}
    for path in files:
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
        self._titles: dict[str, str] = {}

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
        self._title_tabs(message.state)
        lockfile = lockfile_text(message.state)
        self.lockfile_plain = lockfile.plain
        self._render_tab(self.query_one(TabbedContent).active, lockfile)

    def _title_tabs(self, state: StateView) -> None:
        """Each tab is titled by the declared names of the stores it shows."""
        tabs = self.query_one(TabbedContent)
        for tab, kinds in (("tab-lockfile", DOCUMENT_KINDS), ("tab-catalog", ("sqlite",)),
                           ("tab-tree", ("tree",))):
            names = [s.name for s in state.stores(*kinds)]
            title = ", ".join(names).capitalize() if names else "—"
            if self._titles.get(tab) != title:
                self._titles[tab] = title
                tabs.get_tab(tab).label = title

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
        content: Text | Table | Tree
        if tab == "tab-lockfile":
            content = lockfile if lockfile is not None else lockfile_text(state)
            key: object = content.plain
            height = len(content.plain.splitlines())
        elif tab == "tab-catalog":
            stores = state.stores("sqlite")
            content, key = catalog_table(stores), repr(stores)
            height = sum(len(rows) + 1 for _, _, rows in store_rows(stores)) or 1
        elif tab == "tab-tree":
            trees = state.stores("tree")
            files = tree_files(trees)
            content, key = files_tree(trees), tuple(files)
            height = tree_lines(files)
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
