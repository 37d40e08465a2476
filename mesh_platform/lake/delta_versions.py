"""A product table's versions: the Delta log's history, and restoring an earlier version.

A restore is a Delta `RESTORE` commit: a new version whose files are the target version's.
Nothing is deleted: the versions in between stay in the log and readable, so a rollback can
itself be rolled back. The platform never vacuums a product's table (orphan cleaning keeps
every file a version references, see `orphans`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import MeshError, PlatformError
from mesh_platform.lake.lakehouse import Key, Lakehouse

if TYPE_CHECKING:
    from deltalake import DeltaTable

# Keys this module writes into a restore commit's info (Delta `commitInfo`), read back by
# `history`: who restored and why travel with the table, wherever it is copied.
COMMIT_PREFIX = "mesh."


class VersionError(MeshError):
    """A version or time to roll back to that the table does not have; says which it has."""


@dataclass(frozen=True)
class DeltaVersion:
    """One commit of a product's Delta log."""

    version: int
    at: datetime
    operation: str  # WRITE, RESTORE, ...
    rows_added: int | None = None  # what the commit wrote (None for a restore)
    restored_from: int | None = None  # for a RESTORE: the version it brought back
    mesh: dict[str, str] = field(default_factory=dict)  # this platform's commit metadata


def _table(lakehouse: Lakehouse, key: Key, version: int | None = None) -> DeltaTable:
    from deltalake import DeltaTable

    lakehouse.version(key)  # a missing table or unreachable storage: the lakehouse's errors
    return DeltaTable(
        lakehouse.uri(key), version=version, storage_options=lakehouse.storage_options or None
    )


def _entry(raw: dict[str, Any]) -> DeltaVersion:
    metrics = raw.get("operationMetrics") or {}
    parameters = raw.get("operationParameters") or {}
    operation = str(raw.get("operation", "?"))
    restored = parameters.get("version") if operation == "RESTORE" else None
    added = metrics.get("num_added_rows")
    return DeltaVersion(
        version=int(raw["version"]),
        at=datetime.fromtimestamp(int(raw["timestamp"]) / 1000, UTC),
        operation=operation,
        rows_added=int(added) if added is not None else None,
        restored_from=int(restored) if restored not in (None, "") else None,
        mesh={
            k.removeprefix(COMMIT_PREFIX): str(v)
            for k, v in raw.items()
            if k.startswith(COMMIT_PREFIX)
        },
    )


def delta_history(lakehouse: Lakehouse, key: Key) -> list[DeltaVersion]:
    """Every version in the product's Delta log, newest first."""
    entries = [_entry(raw) for raw in _table(lakehouse, key).history() if "version" in raw]
    return sorted(entries, key=lambda e: e.version, reverse=True)


def rows_at(lakehouse: Lakehouse, key: Key, version: int) -> int | None:
    """The row count of one version, from the log's file statistics (no data file is read);
    None when a file has no statistics."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = pa.table(_table(lakehouse, key, version).get_add_actions(flatten=True))
    if counts.num_rows == 0:
        return 0
    column = counts.column("num_records")
    if column.null_count:
        return None
    return int(pc.sum(column).as_py() or 0)


def version_at(lakehouse: Lakehouse, key: Key, when: datetime) -> int:
    """The version that was current at `when` (the newest committed at or before it)."""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    before = [e for e in delta_history(lakehouse, key) if e.at <= when]
    if not before:
        oldest = min(delta_history(lakehouse, key), key=lambda e: e.version)
        raise VersionError(
            f"{'.'.join(key)} had no version yet at {when.isoformat()}: its first version "
            f"(0) was written at {oldest.at.isoformat()}. Fix: pick a later time, or a version "
            f"from `mesh history {'.'.join(key)}`"
        )
    return before[0].version


def check_target(lakehouse: Lakehouse, key: Key, version: int) -> int:
    """The current version, after checking that `version` is an earlier one to restore."""
    current = lakehouse.version(key)
    name = ".".join(key)
    if version < 0 or version > current:
        raise VersionError(
            f"{name} has no version {version}: its versions are 0 to {current}. "
            f"Fix: pick one from `mesh history {name}`"
        )
    if version == current:
        raise VersionError(
            f"{name} is already at version {version}: nothing to roll back. Fix: pick an "
            f"earlier version from `mesh history {name}`"
        )
    return current


def restore(lakehouse: Lakehouse, key: Key, version: int, metadata: dict[str, str]) -> int:
    """Restore the table to `version` as a new version, carrying `metadata` in its commit
    info; returns the new version."""
    from deltalake import CommitProperties

    check_target(lakehouse, key, version)
    table = _table(lakehouse, key)
    try:
        table.restore(
            version,
            commit_properties=CommitProperties(
                custom_metadata={f"{COMMIT_PREFIX}{k}": v for k, v in metadata.items()}
            ),
        )
    except OSError as exc:
        raise PlatformError(f"storage unreachable at {lakehouse.uri(key)}: {exc}") from exc
    except Exception as exc:  # delta-rs raises its own error classes for a log it cannot use
        raise PlatformError(
            f"{'.'.join(key)}: Delta could not restore version {version} ({exc}); the table is "
            "unchanged. Its data files may have been removed outside the platform (vacuum)"
        ) from exc
    return lakehouse.version(key)


def last_commit(lakehouse: Lakehouse, key: Key) -> DeltaVersion | None:
    """The table's newest commit, None when the product has no table yet (one log read)."""
    table = lakehouse.current(key)
    if table is None:
        return None
    entries = [_entry(raw) for raw in table.history(1) if "version" in raw]
    return entries[0] if entries else None


def is_platform_restore(commit: DeltaVersion | None) -> bool:
    """Whether a commit is a rollback the platform made (what a hold always sits on)."""
    return commit is not None and commit.operation == "RESTORE" and "action" in commit.mesh
