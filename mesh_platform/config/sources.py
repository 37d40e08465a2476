"""What the mesh's answers derive from, as one digest cheap enough to take on every command.

The digest covers the mesh's files (`domains/`, `workspace.yaml`, the approvals file,
`governance/`), the platform's code and standards, the installed packages' folders and the
`MESH_*` settings. A file counts by its path, modification time and size, so a check of a
mesh of 10,000 specs is a walk of stats, not a read; a file modified in the last
`RACY_SECONDS` counts by its content too, since a write within the filesystem's timestamp
granularity (and of the same size) would otherwise go unseen.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mesh_platform.config.environment import answer_settings

MESH_FILES = ("domains", "workspace.yaml", "subscriptions.yaml", "governance")
RACY_SECONDS = 2.0
_SKIPPED = ("__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")


def sources_digest(root: Path, settings: bool = True) -> str:
    """The digest of everything under `root` and in this installation that the mesh's
    specs, plans and validation derive from: it changes when any of it changes. Without
    `settings`, the `MESH_*` settings are left out (a code location and a command differ in
    some that do not change what they compute)."""
    root = root.resolve()
    digest = hashlib.sha256(repr(answer_settings() if settings else ()).encode())
    digest.update(f"{root}\0{installation_digest()}".encode())
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    for top in [root / name for name in MESH_FILES]:
        for line in _entries(top, racy):
            digest.update(line)
    return digest.hexdigest()


def installation_digest() -> str:
    """The digest of the platform's code, the standards packages and the installed packages
    (their folders): what the platform's own answers derive from, whatever the mesh."""
    digest = hashlib.sha256(sys.version.encode())
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    for top in _installation_paths():
        for line in _entries(top, racy):
            digest.update(line)
    for folder in sys.path:  # a package installed or removed changes its folder
        if folder.endswith("-packages"):
            digest.update(_stat_line(folder, racy, content=False))
    return digest.hexdigest()


def _installation_paths() -> list[Path]:
    paths = [Path(__file__).resolve().parents[1]]  # the platform's code
    standards = importlib.util.find_spec("standards")  # found, not imported
    if standards is not None and standards.submodule_search_locations:
        paths += [Path(p) for p in standards.submodule_search_locations]
    return paths


def tree_stats(top: Path) -> bytes:
    """Every file under `top` by path, modification time and size (no content read)."""
    return b"".join(_entries(top, racy=time.time_ns() + 1, content=False))


def _entries(top: Path, racy: int, content: bool = True) -> Iterator[bytes]:
    """One line per file under `top` (or for `top` itself), sorted; a missing path is one."""
    if not top.is_dir():
        yield _stat_line(top, racy, content)
        return
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            yield f"{folder}\0unreadable\n".encode()
            continue
        for entry in entries:
            if entry.name in _SKIPPED or entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                yield _stat_line(entry.path, racy, content)


def _stat_line(path: str | Path, racy: int, content: bool = True) -> bytes:
    """`path` with its modification time and size; with its content's digest too when it
    was modified after `racy` (nanoseconds since the epoch)."""
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}\0missing\n".encode()
    line = f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}"
    if content and stat.st_mtime_ns > racy and os.path.isfile(path):
        try:
            line += "\0" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            line += "\0unreadable"
    return (line + "\n").encode()
