"""The processes `mesh up` started, as the kernel sees them (Linux `/proc`).

`dagster dev` runs in a process group of its own, but what it starts does not stay there for
sure (a process whose parent died is adopted by init and keeps its group; a program may start
a session of its own), so `mesh up` follows both the group and the parent links, and records
what it saw: a process seen once is killed if it is still there at the end. A process is
identified by its pid and start time, so a pid the kernel reuses is never taken for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class _Stat:
    state: str
    parent: int
    group: int
    start_ticks: int


def _stats() -> dict[int, _Stat]:
    """Every process now: pid -> state, parent, process group, start (clock ticks after boot)."""
    found = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... starttime (field 22): comm may hold spaces and ")".
        fields = text[text.rfind(")") + 2 :].split()
        found[int(entry.name)] = _Stat(fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    return found


def group_members(group: int) -> list[int]:
    """Live processes (not zombies) of the process group `group`."""
    if not _PROC.is_dir():  # not Linux: whether any process of the group is left
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [group]
    return sorted(p for p, s in _stats().items() if s.group == group and s.state != "Z")


def started_at(pid: int) -> float | None:
    """When the process `pid` started (seconds since the epoch); None if there is none (or a
    zombie). Not Linux: the current time for a live process (its start is not known)."""
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return time.time()
    stat = _stats_of(pid)
    if stat is None or stat.state == "Z":
        return None
    return _boot_time() + stat.start_ticks / os.sysconf("SC_CLK_TCK")


def _stats_of(pid: int) -> _Stat | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return _Stat(fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


def _boot_time() -> float:
    for line in (_PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


@dataclass
class ProcessTree:
    """The processes under `root` (its descendants and the members of process groups one of
    them leads), remembered as they are seen: `refresh()` adds the new ones."""

    root: int
    seen: dict[int, int] = field(default_factory=dict)  # pid -> start time (clock ticks)

    def refresh(self) -> list[int]:
        """Look again; returns the processes of the tree alive now (the root included)."""
        if not _PROC.is_dir():
            return group_members(self.root)
        stats = _stats()
        for pid, started in self.seen.items():
            now = stats.get(pid)
            if now is None or now.start_ticks != started:
                stats.pop(pid, None)
        tree = {p for p in (self.root, *self.seen) if p in stats}
        grew = True
        while grew:
            groups = {stats[p].group for p in tree} & ({self.root} | tree)
            more = {p for p, s in stats.items() if s.parent in tree or s.group in groups}
            grew = bool(more - tree)
            tree |= more
        alive = sorted(p for p in tree if stats[p].state != "Z")
        self.seen.update({p: stats[p].start_ticks for p in alive})
        return alive

    def pids(self) -> set[int]:
        """Every process ever seen in the tree."""
        return set(self.seen) | {self.root}

    def kill(self) -> None:
        """SIGKILL the tree's group and every process seen in the tree that is still the same
        process. Safe in a signal handler: it reads `seen`, never changes it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.root, signal.SIGKILL)
        for pid, started in list(self.seen.items()):
            now = _stats_of(pid)
            if now is not None and now.start_ticks == started:
                send([pid], signal.SIGKILL)


def send(pids: Iterable[int], sig: int) -> None:
    """Send `sig` to each of `pids` that is still there."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
