"""Whether the marketplace catalog is in step with the mesh: checked cheaply on every command.

The catalog sync (`sync.py`) loads and plans every spec and reads the Dagster instance:
seconds. `mesh search` and `mesh show` need it only when something it reads changed since
the catalog was last synced (by a command or by the `mesh_catalog_sync` sensor). What it
reads, as one digest: the mesh's sources (`config/sources.py`: spec files, platform code),
the lake's Delta logs (a local lake: each table's `_delta_log` folder), the Dagster
instance's files (a local instance: its SQLite files under `history/`) and the catalog's governance
(the audit log's and the subscriptions' last ids). The digest is kept in the catalog as the
`sync` mark after each sync; a command whose digest equals it answers at once.

A lake in an object store and an instance in PostgreSQL cannot be checked by file stats:
there, new runs reach the catalog through the sensor (every minute while `mesh up` serves),
and a changed spec through the next command.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import func, select, text

from mesh_platform.catalog import AuditEntry, Catalog
from mesh_platform.catalog.marks import read_mark, write_mark
from mesh_platform.config.sources import sources_digest, tree_stats

SYNC_MARK = "sync"
# What a local Dagster instance writes runs, events and check evaluations to (SQLite files
# under `history/`), and its configuration.
INSTANCE_FILES = ("history", "dagster.yaml")


def sync_digest(catalog: Catalog, root: Path, lake_root: str, dagster_home: Path) -> str:
    """The digest of what a sync of `catalog` with the mesh under `root` reads."""
    digest = hashlib.sha256(sources_digest(root, settings=False).encode())
    digest.update(_lake_stats(lake_root))
    for part in INSTANCE_FILES:
        digest.update(tree_stats(dagster_home / part))
    digest.update(_governance(catalog).encode())
    return digest.hexdigest()


def is_synced(catalog: Catalog, digest: str) -> bool:
    """Whether the catalog's last sync was with what `digest` stands for."""
    with catalog.engine.connect() as connection:
        return read_mark(connection, SYNC_MARK) == digest


def mark_synced(catalog: Catalog, digest: str) -> None:
    """Record that the catalog was just synced with what `digest` stands for (taken before
    the sync began: what changed during it is synced again next time)."""
    with catalog.engine.begin() as connection:
        write_mark(connection, SYNC_MARK, digest)


def _lake_stats(lake_root: str) -> bytes:
    """Each local table's Delta log folder (a commit adds a file to it, changing its time)."""
    if "://" in lake_root and not lake_root.startswith("file://"):
        return f"remote lake {lake_root}\n".encode()
    root = Path(lake_root.removeprefix("file://"))
    lines = []
    for log in sorted(root.glob("*/*/_delta_log")):
        try:
            stat = os.stat(log)
        except OSError:
            continue
        lines.append(f"{log}\0{stat.st_mtime_ns}\n")
    return "".join(lines).encode()


def _governance(catalog: Catalog) -> str:
    """The last audit entry and subscription: an approval or revocation changes consumers."""
    with catalog.session() as session:
        audit = session.scalar(select(func.max(AuditEntry.id)))
        # Plain SQL: the access package's models would bring the spec loader (0.1 s) along.
        subscriptions = session.execute(text("SELECT count(*), max(id) FROM subscriptions")).one()
    return f"audit {audit}; subscriptions {tuple(subscriptions)}"
