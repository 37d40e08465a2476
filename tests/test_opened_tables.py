"""Delta tables kept open between reads (lake/opened.py): handed out again only while current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from mesh_platform.lake import opened
from mesh_platform.lake.delta_versions import last_commit
from mesh_platform.lake.lakehouse import Lakehouse

KEY = ("shop", "events")


def _lake(tmp_path: Path) -> Lakehouse:
    return Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path / "landing"))


def _write(uri: str, rows: int) -> None:
    write_deltalake(uri, pa.table({"id": list(range(rows))}), mode="overwrite")


def test_a_table_is_read_once_while_nothing_is_committed(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    uri = lake.uri(KEY)
    _write(uri, 3)
    first = lake.current(KEY)
    assert first is not None and lake.current(KEY) is first
    assert lake.dataset(KEY).count_rows() == 3 and lake.version(KEY) == 0
    assert lake.committed_rows(KEY) == (True, 3) and lake.current(KEY) is first


def test_a_commit_by_another_writer_is_seen(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    uri = lake.uri(KEY)
    _write(uri, 3)
    kept = lake.current(KEY)
    _write(uri, 5)  # another process's commit, through its own table
    assert lake.version(KEY) == 1 and lake.committed_rows(KEY) == (True, 5)
    assert lake.current(KEY) is not kept


def test_a_rollback_is_seen_by_the_next_read(tmp_path: Path) -> None:
    """What the hold check relies on: the newest commit, a restore, is read, not the kept one."""
    lake = _lake(tmp_path)
    uri = lake.uri(KEY)
    _write(uri, 3)
    _write(uri, 4)
    before = last_commit(lake, KEY)
    assert before is not None and before.operation == "WRITE"
    DeltaTable(uri).restore(0)
    after = last_commit(lake, KEY)
    assert after is not None and (after.version, after.operation) == (2, "RESTORE")
    assert lake.committed_rows(KEY) == (True, 3)


def test_a_table_removed_and_written_anew_is_read_anew(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    uri = lake.uri(KEY)
    _write(uri, 3)
    _write(uri, 4)
    assert lake.version(KEY) == 1
    shutil.rmtree(uri)
    _write(uri, 2)  # version 0 again, fewer commits than the kept table had
    assert lake.version(KEY) == 0 and lake.dataset(KEY).count_rows() == 2
    shutil.rmtree(uri)
    assert lake.current(KEY) is None  # no table: not the kept one


def test_a_write_through_the_table_keeps_it_current(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    _write(lake.uri(KEY), 3)
    kept = lake.current(KEY)
    written = lake.write(KEY, pa.table({"id": [1, 2]}))
    assert written.version == 1 and lake.current(KEY) is kept  # moved on by the write
    assert lake.dataset(KEY).count_rows() == 2


def test_a_run_base_is_its_own(tmp_path: Path) -> None:
    """An incremental write commits through the table as its run read it: never the shared
    one, which another run in the process may move on."""
    lake = _lake(tmp_path)
    _write(lake.uri(KEY), 3)
    assert lake.base(KEY) is not lake.current(KEY)
    assert lake.base(KEY) is not lake.base(KEY)


def test_object_store_tables_are_not_kept() -> None:
    assert opened.kept("s3://bucket/lake/shop/events") is None


def test_stored_size_is_read_from_the_log(tmp_path: Path) -> None:
    """Rows and bytes from the log's add actions equal the files' own (checked from disk)."""
    lake = _lake(tmp_path)
    uri = lake.uri(KEY)
    _write(uri, 3)
    write_deltalake(uri, pa.table({"id": [7, 8]}), mode="append")
    files = [Path(u.removeprefix("file://")) for u in DeltaTable(uri).file_uris()]
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    assert rows == 5
    assert lake.stored(KEY) == (rows, sum(f.stat().st_size for f in files))
    assert lake.committed_rows(KEY) == (True, 5)
    assert lake.committed_rows(("shop", "missing")) == (False, None)
