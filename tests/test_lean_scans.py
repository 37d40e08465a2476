"""Local Parquet scanned lean (`lake/scanning.py`): the same rows, partitions and pruning as
pyarrow's dataset, through the scanner DuckDB calls; a filtered or remote dataset untouched."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable, write_deltalake

from mesh_platform.lake import scanning
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.lake.local import is_local, local_path
from mesh_platform.lake.scanning import lean

ROWS = [(i, f"2026-12-0{1 + i % 3}", i * 1.5) for i in range(300)]


@pytest.fixture
def table(tmp_path: Path) -> str:
    """A Delta table partitioned by day, three files a day (written in three commits)."""
    uri = str(tmp_path / "sales" / "orders")
    for part in range(3):
        rows = ROWS[part * 100 : (part + 1) * 100]
        data = pa.table(
            {
                "id": [r[0] for r in rows],
                "day": [r[1] for r in rows],
                "amount": [r[2] for r in rows],
            }
        )
        write_deltalake(uri, data, partition_by=["day"], mode="append")
    return uri


def test_a_lean_dataset_holds_the_same_rows_partitions_and_statistics(table: str) -> None:
    plain = DeltaTable(table).to_pyarrow_dataset()
    kept = lean(plain)
    assert type(kept).__name__ == "LeanDataset" and isinstance(kept, pads.FileSystemDataset)
    columns = kept.to_table(columns=["id", "day", "amount"]).to_pydict().values()
    got = sorted(zip(*columns, strict=True))
    assert got == sorted(ROWS)
    # Partition values and file statistics came along: a filter prunes to that day's files.
    day = pc.field("day") == "2026-12-02"
    assert len(list(kept.get_fragments(filter=day))) == 3 < len(list(kept.get_fragments()))
    assert kept.count_rows(filter=pc.field("id") >= 150) == 150
    assert lean(kept) is kept


def test_duckdb_scans_through_the_lean_scanner_with_its_pushdown(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = lean(DeltaTable(table).to_pyarrow_dataset())
    asked: list[dict[str, object]] = []
    real = type(kept).scanner

    def spied(self, columns=None, filter=None, **options):  # type: ignore[no-untyped-def]
        asked.append({"columns": columns, "filter": filter, **options})
        return real(self, columns=columns, filter=filter, **options)

    monkeypatch.setattr(type(kept), "scanner", spied)
    con = duckdb.connect()
    con.register("orders", kept)
    ((total, count),) = con.sql(
        "SELECT sum(amount), count(*) FROM orders WHERE day = '2026-12-03'"
    ).fetchall()
    con.close()
    expected = [r[2] for r in ROWS if r[1] == "2026-12-03"]
    assert (total, count) == (pytest.approx(sum(expected)), len(expected))
    assert asked, "DuckDB did not scan through the lean dataset's scanner"
    # Only the summed column is read: the day predicate went to pyarrow, which prunes by it.
    assert asked[0]["columns"] == ["amount"]
    assert asked[0]["filter"] is not None


def test_the_lean_defaults_yield_to_what_a_caller_asks(table: str) -> None:
    options = scanning.scan_defaults({"batch_readahead": 1})
    assert options["batch_readahead"] == 1
    assert options["fragment_readahead"] == scanning.FRAGMENT_READAHEAD
    assert options["fragment_scan_options"].pre_buffer is False
    kept = lean(DeltaTable(table).to_pyarrow_dataset())
    batches = list(kept.scanner(columns=["id"], batch_size=7).to_batches())
    assert max(b.num_rows for b in batches) <= 7
    assert sum(b.num_rows for b in batches) == len(ROWS)


def test_filtered_and_remote_datasets_stay_as_they_are(table: str) -> None:
    plain = DeltaTable(table).to_pyarrow_dataset()
    filtered = plain.filter(pc.field("id") < 10)
    assert lean(filtered) is filtered  # a copy from its files would lose the filter
    assert lean(filtered).count_rows() == 10
    assert lean(plain, local=False) is plain
    assert lean(pa.table({"x": [1]})) is not None
    assert is_local("/lake/sales") and is_local("file:///lake") and not is_local("s3://b/lake")
    assert local_path("file:///lake/sales") == "/lake/sales" and local_path("abfss://c/l") is None


def test_the_lakehouse_hands_out_lean_inputs(table: str, tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=str(tmp_path), landing_root=str(tmp_path / "landing"))
    dataset = lakehouse.dataset(("sales", "orders"))
    assert type(dataset).__name__ == "LeanDataset"
    assert dataset.count_rows() == len(ROWS)
