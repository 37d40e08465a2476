"""Local Parquet scanned lean: what DuckDB and the platform read holds little in memory.

pyarrow's scanner pre-buffers each Parquet file's column chunks (`pre_buffer`, made to hide an
object store's latency) and reads ahead 16 batches in each of 4 files. DuckDB's scan of a
registered dataset calls its `scanner(columns=, filter=)` with no other option, so over local
files a full scan of lineitem at TPC-H scale 10 peaked at 3.4 GB and ran 30% slower than
without pre-buffering (1.0 GB; 0.8 GB with half the read-ahead too; `bench/scans.py`).

`lean(dataset)` is the same files, schema and partition values (with their statistics, for
pruning) whose `scanner` defaults to no pre-buffering and half pyarrow's read-ahead; any option
a caller passes still wins. A dataset in an object store keeps pyarrow's defaults.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow.dataset as pads

BATCH_READAHEAD = 8  # pyarrow: 16
FRAGMENT_READAHEAD = 2  # pyarrow: 4


def lean(dataset: pads.Dataset, local: bool = True) -> pads.Dataset:
    """`dataset` scanned lean when its files are `local` (else, and for a dataset that is not
    a set of files or was filtered, whose filter a copy would lose: `dataset` itself)."""
    import pyarrow.dataset as pads

    if not local or not isinstance(dataset, pads.FileSystemDataset):
        return dataset
    if getattr(dataset, "_scan_options", None):  # `Dataset.filter`'s: kept by it alone
        return dataset
    if isinstance(dataset, _lean_class()):
        return dataset
    return _lean_class()(
        list(dataset.get_fragments()), dataset.schema, dataset.format, dataset.filesystem
    )


def scan_defaults(options: dict[str, Any]) -> dict[str, Any]:
    """A lean scan's options: `options`, with no pre-buffering and half pyarrow's read-ahead
    where they say nothing."""
    import pyarrow.dataset as pads

    return {
        "fragment_scan_options": pads.ParquetFragmentScanOptions(pre_buffer=False),
        "batch_readahead": BATCH_READAHEAD,
        "fragment_readahead": FRAGMENT_READAHEAD,
        **options,
    }


@functools.cache
def _lean_class() -> type[pads.FileSystemDataset]:
    """The dataset class, made on first use (pyarrow.dataset is a heavy import)."""
    import pyarrow.dataset as pads

    class LeanDataset(pads.FileSystemDataset):  # type: ignore[misc]
        """A FileSystemDataset whose scans default to no pre-buffering and less read-ahead."""

        def scanner(self, columns: Any = None, filter: Any = None, **options: Any) -> Any:
            return super().scanner(columns=columns, filter=filter, **scan_defaults(options))

        # pyarrow's own shortcuts make their scanner without `scanner`: go through it.
        def to_table(self, columns: Any = None, filter: Any = None, **options: Any) -> Any:
            return self.scanner(columns=columns, filter=filter, **options).to_table()

        def to_batches(self, columns: Any = None, filter: Any = None, **options: Any) -> Any:
            return self.scanner(columns=columns, filter=filter, **options).to_batches()

        def head(
            self, num_rows: int, columns: Any = None, filter: Any = None, **options: Any
        ) -> Any:
            return self.scanner(columns=columns, filter=filter, **options).head(num_rows)

    return LeanDataset
