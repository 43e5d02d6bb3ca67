"""Running the reference CLI for real, reading its three stores, and standing in for
the explorer's end of the checkpoint protocol."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
EXHAUSTED = "Could not acquire lock on upstream_extensions.json"
WAIT = 60.0  # generous: the machine is shared and slow under load


def base_env(registry_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LIFECYCLE_", "RACE_EXPLORER_"))
    }
    env.update(
        PYTHONPATH=str(FIXTURES),
        LIFECYCLE_REGISTRY_URL=registry_url,
        LIFECYCLE_BUSY_TIMEOUT_MS="300",
    )
    env.update(extra)
    return env


@dataclass
class Cli:
    """The lifecycle CLI bound to one repo dir and registry."""

    repo: Path
    registry_url: str

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lifecycle", "--repo-dir", str(self.repo), *args]

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            env=base_env(self.registry_url, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        proc = self.start(*args, **env)
        out, err = proc.communicate(timeout=WAIT)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def ok(self, *args: str, **env: str) -> str:
        done = self.run(*args, **env)
        assert done.returncode == 0, f"{args} failed: {done.stderr}"
        return done.stdout

    def fails(self, *args: str, **env: str) -> str:
        done = self.run(*args, **env)
        assert done.returncode == 1, f"{args} should fail: {done.stdout} {done.stderr}"
        assert done.stderr.strip(), "a failure must say why on stderr"
        return done.stderr


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=WAIT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@dataclass
class Stores:
    entries: dict[str, Any]
    rows: list[tuple[str, ...]]  # (name, version, kind, type, bundle_path, state)
    files: set[str]

    @property
    def indexed(self) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in self.rows if r[5] == "Indexed"}

    @property
    def listed(self) -> set[str]:
        return {p for e in self.entries.values() for p in e["files"]}

    def breaks(self) -> list[str]:
        """The seed's invariants (i) and (iv), as readable complaints."""
        found = []
        for name, version in sorted(self.indexed):
            if self.entries.get(name, {}).get("version") != version:
                found.append(f"(i) Indexed {name}@{version} has no lockfile entry")
        for name, entry in sorted(self.entries.items()):
            if (name, entry["version"]) not in self.indexed:
                found.append(f"(i) lockfile {name}@{entry['version']} has no Indexed rows")
        found += [f"(iv) unlisted file {p}" for p in sorted(self.files - self.listed)]
        found += [f"(iv) listed file missing {p}" for p in sorted(self.listed - self.files)]
        return found


def read_stores(repo: Path) -> Stores:
    entries = json.loads((repo / "extensions/models/upstream_extensions.json").read_text())
    con = sqlite3.connect(repo / ".swamp/_extension_catalog.db")
    try:
        rows = [tuple(r) for r in con.execute("SELECT * FROM catalog ORDER BY rowid")]
    finally:
        con.close()
    tree = repo / ".swamp/pulled-extensions"
    files = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    return Stores(entries, rows, files)


def assert_agree(repo: Path) -> Stores:
    stores = read_stores(repo)
    assert stores.breaks() == []
    return stores


@dataclass
class Arrival:
    child: int
    verb: str
    name: str


@dataclass
class Conductor:
    """A minimal explorer: answers `go` at once, except where told to hold a child."""

    path: str
    arrivals: list[Arrival] = field(default_factory=list)
    hellos: dict[int, int] = field(default_factory=dict)
    _holds: set[tuple[int, str]] = field(default_factory=set)
    _parked: dict[int, socket.socket] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def env(self, child: int) -> dict[str, str]:
        return {"RACE_EXPLORER_SOCKET": self.path, "RACE_EXPLORER_CHILD": str(child)}

    def hold(self, child: int, name: str) -> None:
        """Park `child` the next time it reaches checkpoint `name`."""
        with self._changed:
            self._holds.add((child, name))

    def wait_parked(self, child: int, name: str) -> None:
        with self._changed:
            parked = self._changed.wait_for(
                lambda: child in self._parked and self.names(child)[-1:] == [name],
                timeout=WAIT,
            )
        assert parked, f"child {child} never parked at {name}: {self.names(child)}"

    def wait_arrival(self, child: int, name: str) -> None:
        with self._changed:
            arrived = self._changed.wait_for(lambda: name in self.names(child), timeout=WAIT)
        assert arrived, f"child {child} never reached {name}: {self.names(child)}"

    def release(self, child: int) -> None:
        with self._changed:
            conn = self._parked.pop(child)
        conn.sendall(b"go\n")

    def names(self, child: int) -> list[str]:
        return [a.name for a in self.arrivals if a.child == child]

    def close(self) -> None:
        self._server.close()
        for conn in self._parked.values():
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        lines = conn.makefile("rb")
        hello = lines.readline().decode().split()
        assert hello[0] == "hello"
        child = int(hello[1])
        with self._changed:
            self.hellos[child] = int(hello[2])
            self._changed.notify_all()
        for raw in lines:
            verb, _, name = raw.decode().strip().partition(" ")
            with self._changed:
                self.arrivals.append(Arrival(child, verb, name))
                hold = (child, name) in self._holds
                if hold:
                    self._holds.discard((child, name))
                    self._parked[child] = conn
                self._changed.notify_all()
            if not hold:
                conn.sendall(b"go\n")
