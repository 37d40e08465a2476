"""Partitioned products replace only their own partitions; nothing widens a write's scope."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pytest

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.errors import BusinessLogicError, PlatformError
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.lake.partitions import PartitionSlice
from tests.mini_mesh import domain_assets, local_lakehouse, write_mesh

EVENTS = """\
name: events
description: Landing copy of events.
source: {landing: events}
columns:
  - {name: event_date, type: date}
  - {name: amount, type: double}
"""

MONTHLY = """\
name: monthly
description: Amount per month.
inputs: {events: events}
partitioning: {column: month, start: 1995-01-01, end: 1995-04-01}
steps:
  - sql: |
      SELECT CAST(date_trunc('MONTH', event_date) AS DATE) AS month, sum(amount) AS total
      FROM events GROUP BY 1
columns:
  - {name: month, type: date}
  - {name: total, type: double}
"""


@pytest.fixture
def mesh_root(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, {"shop": {"events": EVENTS, "monthly": MONTHLY}})


def write_events(landing: Path, rows: list[tuple[str, float]]) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"event_date": [date.fromisoformat(d) for d, _ in rows], "amount": [a for _, a in rows]}
    ).write_parquet(landing / "events.parquet")


def _catalog(root: Path) -> CatalogResource:
    return CatalogResource(url=f"sqlite:///{root / 'catalog.db'}")


def test_partition_runs_keep_the_other_partitions(mesh_root: Path, tmp_path: Path) -> None:
    assets = domain_assets(mesh_root, "shop")
    resources = {"lakehouse": local_lakehouse(tmp_path), "catalog": _catalog(tmp_path)}
    instance = dg.DagsterInstance.ephemeral()

    def refresh(**partition: object) -> None:
        """Re-ingest the events, then materialize `monthly` for the given partition(s)."""
        for key, options in ((["shop", "events"], {}), (["shop", "monthly"], partition)):
            dg.materialize(
                assets,
                selection=[dg.AssetKey(key)],
                instance=instance,
                resources=resources,
                **options,  # type: ignore[arg-type]
            )

    def totals() -> dict[str, float]:
        frame = pl.read_delta(str(tmp_path / "lake/shop/monthly")).sort("month")
        return {str(m): t for m, t in frame.iter_rows()}

    write_events(
        tmp_path / "landing",
        [("1995-01-05", 1.0), ("1995-01-20", 2.0), ("1995-02-03", 10.0), ("1995-03-01", 100.0)],
    )
    refresh(partition_key="1995-01-01")
    assert totals() == {"1995-01-01": 3.0}
    refresh(partition_key="1995-02-01")
    assert totals() == {"1995-01-01": 3.0, "1995-02-01": 10.0}
    # January's source data changes: re-running January replaces January only.
    write_events(tmp_path / "landing", [("1995-01-05", 5.0), ("1995-02-03", 999.0)])
    refresh(partition_key="1995-01-01")
    assert totals() == {"1995-01-01": 5.0, "1995-02-01": 10.0}
    # A single-run backfill over a range replaces exactly that range.
    write_events(tmp_path / "landing", [("1995-02-03", 20.0), ("1995-03-01", 30.0)])
    refresh(
        tags={
            "dagster/asset_partition_range_start": "1995-02-01",
            "dagster/asset_partition_range_end": "1995-03-01",
        }
    )
    assert totals() == {"1995-01-01": 5.0, "1995-02-01": 20.0, "1995-03-01": 30.0}


def test_a_partition_write_refuses_rows_outside_its_partition(tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path))
    key = ("shop", "monthly")
    january = PartitionSlice("month", date(1995, 1, 1), date(1995, 2, 1))
    ok = pa.table({"month": [date(1995, 1, 1)], "total": [1.0]})
    lakehouse.write(key, ok, january)
    version = lakehouse.version(key)
    stray = pa.table({"month": [date(1995, 1, 1), date(1995, 6, 1)], "total": [1.0, 2.0]})
    with pytest.raises(BusinessLogicError, match="1 rows fall outside partition"):
        lakehouse.write(key, stray, january)
    assert lakehouse.version(key) == version
    assert pl.read_delta(lakehouse.uri(key)).to_dicts() == [
        {"month": date(1995, 1, 1), "total": 1.0}
    ]


def test_a_partition_write_refuses_a_table_partitioned_otherwise(tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path))
    key = ("shop", "flat")
    lakehouse.write(key, pa.table({"month": [date(1995, 1, 1)], "total": [1.0]}))
    january = PartitionSlice("month", date(1995, 1, 1), date(1995, 2, 1))
    with pytest.raises(PlatformError, match="refusing a partition write"):
        lakehouse.write(key, pa.table({"month": [date(1995, 1, 1)], "total": [2.0]}), january)


def test_a_failed_run_leaves_the_previous_data(mesh_root: Path, tmp_path: Path) -> None:
    assets = domain_assets(mesh_root, "shop")
    lakehouse = local_lakehouse(tmp_path)
    events = dg.AssetKey(["shop", "events"])
    write_events(tmp_path / "landing", [("1995-01-05", 1.0)])
    dg.materialize(
        assets,
        selection=[events],
        resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)},
    )
    before = pl.read_delta(str(tmp_path / "lake/shop/events"))
    # The export now carries text where the contract promises a number: the run must fail
    # and the table must stay as it was.
    pl.DataFrame({"event_date": [date(1995, 1, 6)], "amount": ["n/a"]}).write_parquet(
        tmp_path / "landing/events.parquet"
    )
    result = dg.materialize(
        assets,
        selection=[events],
        resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    # A landing export whose column type changed is refused before anything runs (the
    # source's problem, named with the file and the fix).
    assert "changed column types: amount is string, declared double" in str(
        failure.event_specific_data
    )
    assert pl.read_delta(str(tmp_path / "lake/shop/events")).equals(before)


def test_missing_inputs_are_a_platform_error(tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path))
    with pytest.raises(PlatformError, match="has no table"):
        lakehouse.dataset(("shop", "nothing"))


def test_the_lake_root_may_be_a_uri(tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=(tmp_path / "lake").as_uri(), landing_root=str(tmp_path))
    key = ("shop", "by_uri")
    written = lakehouse.write(key, pa.table({"a": [1, 2]}))
    assert written.uri.startswith("file://") and written.rows == 2
    assert lakehouse.scan(key).collect()["a"].to_list() == [1, 2]
    assert (tmp_path / "lake/shop/by_uri/_delta_log").is_dir()
