"""Orphan data files: what a killed or failed write leaves in a table's folder.

delta-rs writes a version's data files first and commits them with one log entry, so a write
killed before its commit leaves files that no version references (seen: 158 MB after one kill).
They are harmless to readers but fill the disk. A file is removed only when no version still
in the log references it (so every committed version stays readable, for rollback) and it is
older than a grace period (so the files of a write in progress are never touched).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

from mesh_platform.lake.local import local_path

GRACE_SECONDS = 15 * 60
DATA_SUFFIX = ".parquet"


def referenced_files(folder: Path) -> set[Path]:
    """Every data file referenced by any version of the table's log."""
    from deltalake import DeltaTable

    found: set[Path] = set()
    for entry in DeltaTable(str(folder)).history():
        version = entry.get("version")
        if version is None:
            continue
        try:
            uris = DeltaTable(str(folder), version=int(version)).file_uris()
        except Exception:  # a version whose log entries were cleaned up: nothing to keep
            continue
        found.update(Path(urlparse(u).path if "://" in u else u).resolve() for u in uris)
    return found


def remove_orphans(uri: str, grace_seconds: float = GRACE_SECONDS) -> list[Path]:
    """Delete the unreferenced data files of a local table older than `grace_seconds`.

    Object stores are left alone (their lifecycle rules do this job); returns what was removed.
    """
    local = local_path(uri)
    if local is None:
        return []
    folder = Path(local)
    if not (folder / "_delta_log").is_dir():
        return []
    cutoff = time.time() - grace_seconds
    old = [
        path
        for path in folder.rglob(f"*{DATA_SUFFIX}")
        if path.relative_to(folder).parts[0] != "_delta_log" and path.stat().st_mtime <= cutoff
    ]
    if not old:  # nothing old enough to be an orphan: the log is not read
        return []
    keep = referenced_files(folder)
    removed = []
    for path in old:
        if path.resolve() not in keep:
            path.unlink()
            removed.append(path)
    return removed
