"""Lakehouse storage: Delta tables at `<root>/<domain>/<product>`.

Writes go through delta-rs, which commits atomically: a failed write leaves the previous
version readable. A partitioned write always carries an explicit predicate for its own
partitions and is checked before it is committed, so it can never replace the whole table
(the dagster-deltalake IO manager can, see docs/architecture.md). delta-rs, Arrow and polars
are imported when a table is read or written, not when a code location loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from mesh_platform.errors import BusinessLogicError, PlatformError
from mesh_platform.lake import increments, opened
from mesh_platform.lake.increments import Increment
from mesh_platform.lake.local import is_local
from mesh_platform.lake.orphans import remove_orphans
from mesh_platform.lake.partitions import PartitionSlice
from mesh_platform.lake.scanning import lean

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as pads
    from deltalake import DeltaTable

Key = tuple[str, str]


class LandingError(PlatformError):
    """A landing export is missing, unreadable or not what its ingestion product declares."""


class ForeignWrite(BusinessLogicError):
    """A domain's run tried to write (overwrite, delete) a product of another domain."""


@dataclass(frozen=True)
class WriteResult:
    """What a write committed: the run's rows, and what they did to the table's (a full
    overwrite adds them all; an incremental write says how many it added, updated, deleted)."""

    uri: str
    version: int
    rows: int
    added: int | None = None
    updated: int = 0
    deleted: int = 0
    incremental: bool = False


class Lakehouse(dg.ConfigurableResource):
    """The lakehouse: product tables in Delta, and the landing zone of operational exports."""

    root: str = Field(description="Folder or object-store URI holding the Delta tables.")
    landing_root: str = Field(description="Folder of the landing files (one parquet per table).")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="delta-rs storage options (object-store credentials)."
    )
    domain: str | None = Field(
        default=None,
        description="The domain whose code location uses this lakehouse: its runs may write "
        "that domain's tables only (None: the platform's own tools, e.g. the CLI).",
    )

    def check_writer(self, key: Key) -> None:
        """Refuse a write to `key` from another domain's run (`ForeignWrite`)."""
        if self.domain is not None and key[0] != self.domain:
            raise ForeignWrite(
                f"a run of the {self.domain} domain may not write {'.'.join(key)}: a "
                f"product's table belongs to its domain ({key[0]}), others only read it. "
                f"Fix: write a product of the {self.domain} domain, or ask the {key[0]} team "
                "to change theirs"
            )

    def uri(self, key: Key) -> str:
        """Where the product's table lives."""
        return f"{self.root.rstrip('/')}/{key[0]}/{key[1]}"

    def _table(self, key: Key) -> DeltaTable:
        """The product's table at its current version: the open kept from an earlier read while
        nothing was committed since (`lake/opened.py`), else read from the log."""
        table = opened.kept(self.uri(key))
        if table is None:
            table = self._opened(key)
            opened.keep(self.uri(key), table)
        return table

    def _opened(self, key: Key) -> DeltaTable:
        """The product's table, read from its log."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.uri(key), storage_options=self.storage_options or None)
        except TableNotFoundError:
            raise PlatformError(
                f"product {'.'.join(key)} has no table at {self.uri(key)} yet: materialize it "
                f"first (`mesh materialize {'.'.join(key)}`)"
            ) from None
        except OSError as exc:
            raise PlatformError(f"storage unreachable at {self.uri(key)}: {exc}") from exc

    def exists(self, key: Key) -> bool:
        """Whether the product has been written."""
        try:
            self._table(key)
        except PlatformError:
            return False
        return True

    def dataset(self, key: Key) -> pads.Dataset:
        """The product's current version as a lazily scanned Arrow dataset."""
        return self.as_dataset(self._table(key))

    def as_dataset(self, table: DeltaTable) -> pads.Dataset:
        """`table` (one of this lakehouse's) as a lazily scanned Arrow dataset, scanned lean
        when the lake is local (`lake/scanning.py`)."""
        return lean(table.to_pyarrow_dataset(), is_local(self.root))

    def scan(self, key: Key) -> pl.LazyFrame:
        """The product's current version as a polars LazyFrame."""
        import polars as pl

        self._table(key)
        return pl.scan_delta(self.uri(key), storage_options=self.storage_options or None)

    def version(self, key: Key) -> int:
        """The table's current Delta version."""
        return self._table(key).version()

    def committed_rows(self, key: Key) -> tuple[bool, int | None]:
        """Whether the product has a table, and its current version's row count.

        Read from the Delta log's file statistics (`numRecords` of each live file): no data
        file is opened. The count is None when a file was committed without statistics.
        """
        table = self.current(key)
        if table is None:
            return False, None
        return True, _logged_size(table)[0]

    def stored(self, key: Key) -> tuple[int, int]:
        """Rows and bytes of the product's current version, from the Delta log's add actions
        (no data file is opened; a file committed without statistics has its footer read)."""
        table = self._table(key)
        rows, size = _logged_size(table)
        return (table.to_pyarrow_dataset().count_rows() if rows is None else rows), size

    def landing(self, table: str) -> pads.Dataset:
        """A landing export as a lazily scanned Arrow dataset: `<table>.parquet`, or the files
        of the folder `<table>/` when there is no such file (a folder source).

        A missing file, or one that is not readable parquet (another format, truncated), is a
        `LandingError` naming the file and the fix.
        """
        import pyarrow as pa
        import pyarrow.dataset as pads

        path = Path(self.landing_root) / f"{table}.parquet"
        files = [path]
        if not path.exists() and (Path(self.landing_root) / table).is_dir():
            files = self.landing_folder(table) or [path]
        if not files[0].exists():
            raise LandingError(
                f"landing file {path} is missing. Fix: generate the sample data with "
                "`mesh generate`, have the source export it, or check the landing_root setting"
            )
        try:
            dataset = lean(pads.dataset([str(f) for f in files], format="parquet"))
            dataset.count_rows()  # reads every footer: a truncated file fails here, not later
        except (pa.ArrowInvalid, OSError) as exc:
            raise LandingError(
                f"landing file {path} is not readable parquet ({exc}). Fix: re-export it from "
                "the source as parquet; a partial copy is truncated"
            ) from None
        return dataset

    def landing_folder(self, table: str) -> list[Path]:
        """The files of the landing folder `<table>/` (`*.parquet`, by name; none when it is
        empty); a missing folder is a `LandingError` naming it and the fix."""
        folder = Path(self.landing_root) / table
        if not folder.is_dir():
            single = folder.with_suffix(".parquet")
            moved = (
                f"; {single} is a single file: move it into the folder (e.g. "
                f"{folder}/initial.parquet)"
                if single.exists()
                else ""
            )
            raise LandingError(
                f"landing folder {folder} is missing{moved}. Fix: generate the sample data with "
                "`mesh generate`, have the source export its files into the folder, or check "
                "the landing_root setting"
            )
        return sorted(p for p in folder.glob("*.parquet") if p.is_file())

    def current(self, key: Key) -> DeltaTable | None:
        """The product's table at its current version, None before its first write: the open
        kept from an earlier read while nothing was committed since (`lake/opened.py`). Shared
        within the process: read it, or write through it at once (`write`)."""
        return self._or_none(key, self._table)

    def base(self, key: Key) -> DeltaTable | None:
        """The product's table as this run reads it (None before its first write): an
        incremental write commits through it (`lake/increments.py`), so it is this run's own,
        read from the log (a second run's commit in between is then a conflict)."""
        return self._or_none(key, self._opened)

    @staticmethod
    def _or_none(key: Key, read: Callable[[Key], DeltaTable]) -> DeltaTable | None:
        from deltalake.exceptions import TableNotFoundError

        try:
            return read(key)
        except PlatformError as exc:
            if isinstance(exc.__context__, TableNotFoundError):  # no table yet
                return None
            raise

    def write_increment(
        self, key: Key, data: pa.Table, increment: Increment, base: DeltaTable
    ) -> WriteResult:
        """Apply `data` to the table read as `base`, in one commit, exactly once
        (`lake/increments.py`); refuses another domain's table first (`check_writer`)."""
        self.check_writer(key)
        uri = self.uri(key)
        remove_orphans(uri)
        try:
            changes = increments.commit(uri, key, base, data, increment)
            opened.keep(uri, base)  # kept if delta-rs moved it to the commit, else read anew
        except OSError as exc:
            raise PlatformError(f"storage unreachable at {uri}: {exc}") from exc
        return WriteResult(
            uri,
            changes.version,
            data.num_rows,
            changes.added,
            changes.updated,
            changes.deleted,
            incremental=True,
        )

    def write(
        self,
        key: Key,
        data: pa.Table,
        partition: PartitionSlice | None = None,
        run: Increment | None = None,
    ) -> WriteResult:
        """Replace the table, or only `partition`'s rows of a partitioned table, atomically.

        Data files left by earlier killed or failed writes are removed first (see `orphans`).
        A lakehouse bound to a domain refuses another domain's table first (`check_writer`).
        `run`: the run's id and high-water mark, recorded with the product's transaction.
        """
        from deltalake import write_deltalake

        self.check_writer(key)
        uri = self.uri(key)
        options = self.storage_options or None
        remove_orphans(uri)
        if partition is None:
            return self._replace(key, data, run)
        self._check_inside(key, data, partition)
        existing = self.exists(key)
        if existing:
            partitions = self._table(key).metadata().partition_columns
            if partitions != [partition.column]:
                raise PlatformError(
                    f"{uri} is partitioned by {partitions}, not [{partition.column}]; "
                    "refusing a partition write that could replace other data"
                )
        write_deltalake(
            uri,
            data,
            mode="overwrite",
            partition_by=[partition.column],
            predicate=partition.predicate() if existing else None,
            storage_options=options,
        )
        return WriteResult(uri, self.version(key), data.num_rows)

    def _replace(self, key: Key, data: pa.Table, run: Increment | None) -> WriteResult:
        """Overwrite the whole table, through the table as read once (delta-rs updates it
        with the commit): its new version and files need no second read of the log."""
        from deltalake import write_deltalake

        uri = self.uri(key)
        base = self.current(key)  # written through at once: the kept open serves
        properties = increments.commit_properties(key, base, run) if run else None
        try:
            write_deltalake(
                base if base is not None else uri,
                data,
                mode="overwrite",
                schema_mode="overwrite",
                storage_options=self.storage_options or None,
                commit_properties=properties,
            )
            table = base if base is not None else self._table(key)
            opened.keep(uri, table)  # delta-rs moved it to the version it committed
        except OSError as exc:
            raise PlatformError(f"storage unreachable at {uri}: {exc}") from exc
        return WriteResult(uri, table.version(), data.num_rows)

    @staticmethod
    def _check_inside(key: Key, data: pa.Table, partition: PartitionSlice) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if partition.column not in data.column_names:
            raise BusinessLogicError(
                f"{'.'.join(key)} is partitioned by {partition.column!r} but its result has no "
                "such column; select it in the last step"
            )
        column = data.column(partition.column)
        inside = pc.and_(
            pc.greater_equal(column, pa.scalar(partition.start, column.type)),
            pc.less(column, pa.scalar(partition.end, column.type)),
        )
        outside = (
            data.num_rows - pc.sum(pc.cast(inside, pa.int64())).as_py() if data.num_rows else 0
        )
        if outside:
            raise BusinessLogicError(
                f"{'.'.join(key)}: {outside} rows fall outside partition "
                f"[{partition.start}, {partition.end}); nothing was written"
            )


def _logged_size(table: DeltaTable) -> tuple[int | None, int]:
    """Rows (None when a file was committed without statistics) and bytes of the table's live
    files, from its log's add actions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    size = int(pc.sum(actions.column("size_bytes")).as_py() or 0)
    counts = actions.column("num_records")
    return (None if counts.null_count else int(pc.sum(counts).as_py() or 0)), size
