"""Delta tables opened once per process while their log does not change.

Opening a Delta table replays its log since the last checkpoint: about 8 ms for a table of 30
commits, paid again by every read of the same table in a run (its hold check, the volume
guard's previous row count, the write's base, the written size) and by every product reading
the same input. A local table's open is kept and handed out again while it is current: its
log folder and its version's commit file are the same files (not a table removed and written
anew), and there is no commit after that version (every change, a rollback included, is the
next numbered commit file): three `stat` calls tell. Object stores are not kept: asking them
would cost what the open does.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from mesh_platform.lake.local import local_path

if TYPE_CHECKING:
    from deltalake import DeltaTable

KEPT = 64  # tables kept per process, the least recently used dropped first

Stamp = tuple[int, int, int, int]  # log folder inode; version; its commit file's inode, mtime
_kept: OrderedDict[str, tuple[Stamp, DeltaTable]] = OrderedDict()
_lock = threading.Lock()


def _log_folder(uri: str) -> str | None:
    folder = local_path(uri)
    return None if folder is None else os.path.join(folder, "_delta_log")


def _commit(folder: str, version: int) -> str:
    return os.path.join(folder, f"{version:020d}.json")


def _stamp(uri: str, version: int) -> Stamp | None:
    """What identifies version `version` of a local table: None for a table in an object
    store, or when that commit file is not there."""
    folder = _log_folder(uri)
    if folder is None:
        return None
    try:
        log, commit = os.stat(folder), os.stat(_commit(folder, version))
    except OSError:
        return None
    return log.st_ino, version, commit.st_ino, commit.st_mtime_ns


def kept(uri: str) -> DeltaTable | None:
    """The table opened earlier at `uri`, if it is still the table's current version: the same
    log folder and commit file (not a table removed and written anew), and no later commit."""
    with _lock:
        found = _kept.get(uri)
    if found is None:
        return None
    stamp, table = found
    folder = _log_folder(uri)
    current = (
        folder is not None
        and table.version() == stamp[1]  # not moved on by a write through it
        and _stamp(uri, stamp[1]) == stamp
        and not os.path.exists(_commit(folder, stamp[1] + 1))
    )
    if not current:
        _forget(uri)
        return None
    with _lock:
        if uri in _kept:
            _kept.move_to_end(uri)
    return table


def keep(uri: str, table: DeltaTable) -> None:
    """Keep `table` (a local one) for the next reads of `uri`."""
    stamp = _stamp(uri, table.version())
    if stamp is None:
        return
    with _lock:
        _kept[uri] = (stamp, table)
        _kept.move_to_end(uri)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)


def _forget(uri: str) -> None:
    """Drop what is kept of `uri`."""
    with _lock:
        _kept.pop(uri, None)
