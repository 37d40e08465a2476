"""Which files of a landing folder a product's table holds, recorded in its Delta log.

Every commit of a folder ingestion carries, in its commit metadata and together with the
product's application transaction (`increments.commit_properties`: the next `txn` version of
`mesh:<domain>.<product>`), the whole list of the files the new version holds
(`mesh.landing_files`: name, size, footer digest of each) and the names of the files the
commit itself ingested (`mesh.landing_added`). Two runs that read the same version claim the
same transaction version: Delta lets only the first commit, the other fails with nothing
written (`ConcurrentRun`).

The files a table holds are read from the commit of its current version, so they follow the
table wherever it goes: after `mesh rollback` (a Delta RESTORE, which carries no list) they
are the list of the version it restored, found by following the RESTORE back. The whole list
in every commit (about 100 bytes a file) costs one log entry to read, however long the
history, and survives the log's cleanup of old commits; per-commit lists would need the whole
history walked. A table whose current version has no list (written before its source became a
folder, or by anything else) holds unknown files: its next run re-ingests them all
(`None` from `ingested_files`).

A file is known by its name, its size and a digest of its Parquet footer (the schema, the
row groups' sizes, row counts and min/max statistics): reading a footer costs one small read
at the file's end, however big the file, where a digest of the whole content would read every
ingested file again on every run. A re-export with other rows changes its size or its footer;
only a same-size rewrite that keeps every statistic would go unseen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import PlatformError
from mesh_platform.lake import increments
from mesh_platform.lake.increments import ConcurrentRun, Increment
from mesh_platform.lake.lakehouse import Key, LandingError, WriteResult

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

FILES_KEY = "mesh.landing_files"  # every file the version holds: [[name, size, digest], ...]
ADDED_KEY = "mesh.landing_added"  # the files the commit ingested: [name, ...]
_FOOTER_TAIL = 8  # a Parquet file ends with the footer's length (4 bytes) and `PAR1`


@dataclass(frozen=True, order=True)
class LandedFile:
    """One file of a landing folder, as it was (or is) when ingested."""

    name: str
    size: int
    digest: str

    @classmethod
    def of(cls, path: Path) -> LandedFile:
        """The file as it is now (its size and footer digest)."""
        return cls(path.name, path.stat().st_size, footer_digest(path))


def footer_digest(path: Path) -> str:
    """The sha256 of a Parquet file's footer; a file that is not Parquet is a LandingError."""
    with path.open("rb") as stream:
        size = stream.seek(0, 2)
        if size < 2 * _FOOTER_TAIL:
            raise _not_parquet(path, "too short")
        stream.seek(size - _FOOTER_TAIL)
        tail = stream.read(_FOOTER_TAIL)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length > size - _FOOTER_TAIL:
            raise _not_parquet(path, "no Parquet footer")
        stream.seek(size - _FOOTER_TAIL - length)
        return hashlib.sha256(stream.read(length) + tail).hexdigest()


def _not_parquet(path: Path, why: str) -> LandingError:
    return LandingError(
        f"landing file {path} is not readable parquet ({why}). Fix: re-export it from the "
        "source as parquet; a partial copy is truncated"
    )


def ingested_files(table: DeltaTable) -> dict[str, LandedFile] | None:
    """The files the table's current version holds, by name; None when unknown (see the
    module's docstring)."""
    entry = _commit(table, table.version())
    seen: set[int] = set()
    while entry is not None and entry.get("operation") == "RESTORE":
        target = int((entry.get("operationParameters") or {}).get("version", -1))
        if target < 0 or target in seen:
            return None
        seen.add(target)
        entry = _commit(table, target)
    if entry is None or FILES_KEY not in entry:
        return None
    files = [LandedFile(str(n), int(s), str(d)) for n, s, d in json.loads(entry[FILES_KEY])]
    return {f.name: f for f in files}


def _commit(table: DeltaTable, version: int) -> dict[str, Any] | None:
    """The commit information of one version (None when the log no longer has it)."""
    newest = table.version()
    for entry in table.history(limit=newest - version + 1):
        if int(entry.get("version", -1)) == version:
            return dict(entry)
    return None


@dataclass(frozen=True)
class FolderCommit:
    """One ingestion commit: `data` (the rows of `added`) appended to the table read as
    `base`, or replacing it (`replace`: a first run, a full refresh)."""

    key: Key
    base: DeltaTable | None
    held: Sequence[LandedFile]  # every file the new version holds
    added: Sequence[LandedFile]  # the files whose rows `data` is
    replace: bool
    run_id: str = ""

    def properties(self) -> Any:
        """The product's next transaction, the run's id and the files, for the commit."""
        from deltalake import CommitProperties

        increment = Increment("overwrite" if self.replace else "append", run_id=self.run_id)
        given = increments.commit_properties(self.key, self.base, increment)
        files = [[f.name, f.size, f.digest] for f in sorted(self.held)]
        metadata = {
            **(given.custom_metadata or {}),
            FILES_KEY: json.dumps(files, separators=(",", ":")),
            ADDED_KEY: json.dumps([f.name for f in self.added]),
        }
        return CommitProperties(app_transactions=given.app_transactions, custom_metadata=metadata)


def commit_folder(
    uri: str, options: dict[str, str] | None, run: FolderCommit, data: pa.Table
) -> WriteResult:
    """Commit `run` (one Delta commit, exactly once: see the module's docstring)."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError

    target: Any = run.base if run.base is not None else uri
    try:
        write_deltalake(
            target,
            data,
            mode="overwrite" if run.replace else "append",
            schema_mode="overwrite" if run.replace else None,
            storage_options=options if run.base is None else None,
            commit_properties=run.properties(),
        )
    except CommitFailedError as exc:
        raise ConcurrentRun(
            f"another run of {'.'.join(run.key)} committed to {uri} while this one ran ({exc}); "
            "nothing was written. Fix: run it again: it ingests the files still new"
        ) from None
    except OSError as exc:
        raise PlatformError(f"storage unreachable at {uri}: {exc}") from exc
    version = DeltaTable(uri, storage_options=options).version()
    added = None if run.replace else data.num_rows
    return WriteResult(uri, version, data.num_rows, added, incremental=not run.replace)
