"""The repo dir as an archive: what a rerun restores and a heal in place puts back.

An `[archive]` policy picks what is archived (`include`, `exclude` globs on paths
relative to the repo dir), so a target's tooling inside the repo dir does not
fill the trace. Symlinks are stored as links and restored as links, never
followed: a relative one as it was; an absolute one pointing inside the repo
dir is recorded relative to it and restored pointing inside the dir it is
restored into; one pointing outside is restored as it was (and left dangling
if its target is missing).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

INSIDE = "RACE_EXPLORER.inside"  # pax header: an absolute link's target, relative to the root


@dataclass(frozen=True)
class ArchivePolicy:
    include: tuple[str, ...] = ()  # empty: everything not excluded
    exclude: tuple[str, ...] = ()

    def excludes(self, rel: str) -> bool:
        return _wal_index(rel) or _under_any(rel, self.exclude)

    def includes(self, rel: str) -> bool:
        """Whether the policy covers this path (it, or a dir above it, is included)."""
        return not self.excludes(rel) and (not self.include or _under_any(rel, self.include))


def _wal_index(rel: str) -> bool:
    """SQLite's shared-memory WAL index: rebuilt from the WAL by the next opener, so never
    archived, and a stale one beside a restored database must go."""
    return rel.endswith("-shm")


def _under_any(rel: str, patterns: tuple[str, ...]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(p, pattern) for pattern in patterns for p in prefixes)


def _inside(target: str, root: Path) -> str | None:
    """An absolute link target, relative to the root when it points inside it."""
    norm = os.path.normpath(target)
    base = str(root)
    if norm == base:
        return "."
    return os.path.relpath(norm, base) if norm.startswith(base + os.sep) else None


def archive_dir(root: Path, policy: ArchivePolicy = ArchivePolicy()) -> str:
    """What the policy covers of the dir, as base64 tar.gz."""
    root = root.resolve()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1,
                      format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirs, files in os.walk(root):
            here = Path(dirpath)
            dirs.sort()
            keep = []
            for name in dirs:
                rel = (here / name).relative_to(root).as_posix()
                if os.path.islink(here / name):
                    files.append(name)  # a link to a dir is a link: stored, never walked
                elif not policy.excludes(rel):
                    keep.append(name)
                    if policy.includes(rel):
                        _add(tar, root, here / name, rel)
            dirs[:] = keep
            for name in sorted(files):
                rel = (here / name).relative_to(root).as_posix()
                if policy.includes(rel):
                    _add(tar, root, here / name, rel)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _add(tar: tarfile.TarFile, root: Path, path: Path, rel: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        info = tar.gettarinfo(str(path), arcname=rel)
        if info.issym() and os.path.isabs(info.linkname):
            inside = _inside(info.linkname, root)
            if inside is not None:
                info.pax_headers = {**info.pax_headers, INSIDE: inside}
        if info.isreg():
            with path.open("rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)


def restore_archive(
    archive: str, dest: Path, policy: ArchivePolicy = ArchivePolicy(), *, replace: bool = False
) -> None:
    """Recreate a dir from `archive_dir()` output. With `replace`, what the policy covers
    in `dest` is removed first (what it excludes stays as it is), so the dir is put back
    exactly; without, dest should be empty."""
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    if replace:
        _clear(dest, dest, policy)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(archive)), mode="r:gz") as tar:
        members = tar.getmembers()
        # Links last: nothing is ever written through one.
        tar.extractall(dest, members=[m for m in members if not m.issym()], filter="data")
        for member in members:
            if member.issym():
                _link(dest, member)


def _link(dest: Path, member: tarfile.TarInfo) -> None:
    if not member.name or os.path.isabs(member.name) or ".." in Path(member.name).parts:
        raise tarfile.OutsideDestinationError(member, str(dest / member.name))
    path = dest / member.name
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.path.realpath(parent).startswith(str(dest)):
        raise tarfile.OutsideDestinationError(member, str(path))
    inside = member.pax_headers.get(INSIDE)
    target = os.path.normpath(dest / inside) if inside is not None else member.linkname
    if os.path.lexists(path) and not path.is_dir():
        path.unlink()
    os.symlink(target, path)


def _clear(root: Path, directory: Path, policy: ArchivePolicy) -> None:
    """Remove what the policy covers under `directory`; links are removed, never followed."""
    for entry in os.scandir(directory):
        rel = Path(entry.path).relative_to(root).as_posix()
        is_dir = entry.is_dir(follow_symlinks=False)
        if _wal_index(rel) and not is_dir:
            os.unlink(entry.path)
        elif policy.excludes(rel):
            continue
        elif is_dir:
            _clear(root, Path(entry.path), policy)
            if policy.includes(rel):
                with contextlib.suppress(OSError):  # not empty: it holds what is kept
                    os.rmdir(entry.path)
        elif policy.includes(rel):
            os.unlink(entry.path)


def archive_bytes(archive: str | None) -> int:
    """The archive's size as stored compressed (before base64)."""
    return len(archive) * 3 // 4 if archive else 0
