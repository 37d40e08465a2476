"""A run's result held within a memory budget: in memory when small, else spilled to disk.

The engine's result arrives as record batches (`DuckDBEngine.stream`); each batch is
conformed to the contract as it arrives (`run/conform.py`). Up to `SPILL_BYTES` the batches
stay in memory and the result is an Arrow table, as before; past it, every batch goes to a
Parquet file in a temporary folder and the result is a `Spilled` table: the quality gate reads
the columns each rule needs, the metadata its first rows, and the write streams it to Delta,
so no step holds the whole result. The folder is removed when the result is released.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from mesh_platform.lake.scanning import lean

if TYPE_CHECKING:
    import pyarrow.dataset as pads

SPILL_BYTES = 256 * 1024 * 1024  # a result larger than this in Arrow goes to disk
READ_ROWS = 65_536  # rows per batch when a spilled result is read back


class Spilled:
    """A result in Parquet files: the subset of `pyarrow.Table` a run's stages use, read from
    disk column by column (and streamed whole to a writer through the Arrow C stream)."""

    def __init__(self, folder: Path, schema: pa.Schema, rows: int, size: int) -> None:
        import pyarrow.dataset as pads

        self.folder = folder
        self.schema = schema
        self.num_rows = rows
        self.nbytes = size
        self.dataset: pads.Dataset = lean(
            pads.dataset(str(folder), format="parquet", schema=schema)
        )
        weakref.finalize(self, shutil.rmtree, str(folder), True)

    @property
    def column_names(self) -> list[str]:
        """The result's columns, in contract order."""
        return list(self.schema.names)

    def column(self, name: str) -> pa.ChunkedArray:
        """One column, read whole."""
        return self.dataset.to_table(columns=[name]).column(name)

    def select(self, names: Sequence[str]) -> pa.Table:
        """These columns, read whole."""
        return self.dataset.to_table(columns=list(names))

    def slice(self, offset: int = 0, length: int | None = None) -> pa.Table:
        """Rows `offset` to `offset + length`, read from the first files only."""
        return self.dataset.head(offset + (length or self.num_rows)).slice(offset, length)

    def reader(self) -> pa.RecordBatchReader:
        """The whole result, batch by batch (read ahead little: the reader feeds a writer)."""
        scanner = self.dataset.scanner(
            batch_size=READ_ROWS, batch_readahead=1, fragment_readahead=1
        )
        return scanner.to_reader()

    def to_table(self) -> pa.Table:
        """The whole result in memory (for what cannot stream, e.g. an scd2 history)."""
        return self.dataset.to_table()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The Arrow C stream interface: delta-rs writes and merges read the result through it."""
        return self.reader().__arrow_c_stream__(requested_schema)


Result: TypeAlias = pa.Table | Spilled


def stage(
    reader: pa.RecordBatchReader,
    conform: Callable[[pa.Table], pa.Table],
    budget: int | None = None,
) -> Result:
    """Read the whole of `reader`, each batch conformed; in memory up to `budget` bytes
    (`SPILL_BYTES` when None)."""
    budget = SPILL_BYTES if budget is None else budget
    held: list[pa.Table] = []
    size = 0
    batches = iter(reader)
    for batch in batches:
        conformed = conform(pa.Table.from_batches([batch]))
        held.append(conformed)
        size += conformed.nbytes
        if size > budget:
            return _spill(held, (conform(pa.Table.from_batches([b])) for b in batches))
    if not held:
        return conform(reader.schema.empty_table())
    return pa.concat_tables(held)


def in_memory(result: Result) -> pa.Table:
    """The result as an Arrow table (read whole when it was spilled)."""
    return result.to_table() if isinstance(result, Spilled) else result


def _spill(held: list[pa.Table], rest: Iterable[pa.Table]) -> Spilled:
    import pyarrow.parquet as pq

    folder = Path(tempfile.mkdtemp(prefix="mesh-result-"))
    schema = held[0].schema
    rows = size = 0
    try:
        with pq.ParquetWriter(str(folder / "part-0.parquet"), schema) as writer:
            for table in _chain(held, rest):
                writer.write_table(table)
                rows += table.num_rows
                size += table.nbytes
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Spilled(folder, schema, rows, size)


def _chain(held: list[pa.Table], rest: Iterable[pa.Table]) -> Iterable[pa.Table]:
    while held:  # released as written: the memory held so far goes with them
        yield held.pop(0)
    yield from rest
