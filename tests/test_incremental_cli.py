"""Issue 18, as a domain team uses it: an incremental product materialized with `mesh
materialize` (real Dagster runs), a day of data added, only the new rows processed; the run's
metadata and the product page say how many rows were added, updated and deleted;
`--full-refresh` rebuilds from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from tests.cli_mesh import CliMesh, cli_mesh

ORDERS = """\
name: orders
description: Orders as the shop exports them.
source: {landing: orders}
columns:
  - {name: id, type: bigint}
  - {name: day, type: date}
  - {name: amount, type: double}
"""
LATEST = """\
name: latest
description: Each order's latest amount.
visibility: published
inputs: {orders: orders}
write: merge
keys: [id]
incremental: {column: day, lookback: 1 day}
steps:
  - sql: SELECT id, day, amount FROM orders
columns:
  - {name: id, type: bigint, description: The order}
  - {name: day, type: date, description: When it last changed}
  - {name: amount, type: double, description: Its amount}
"""


def _latest_metadata(mesh: CliMesh) -> dict[str, object]:
    instance = dg.DagsterInstance.from_config(str(mesh.home / "dagster"))
    event = instance.get_latest_materialization_event(dg.AssetKey(["shop", "latest"]))
    assert event is not None and event.asset_materialization is not None
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _days(*days: int) -> list[object]:
    from datetime import date

    return [date(2024, 3, d) for d in days]


def test_a_day_of_new_data_processes_only_the_new_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS, "latest": LATEST}}, monkeypatch) as mesh:
        history = {"id": list(range(1, 11)), "day": _days(*range(1, 11)), "amount": [1.0] * 10}
        mesh.land("orders", history)
        assert mesh.run("materialize", "shop").exit_code == 0
        # A new day: order 10 changed (on day 10, inside the lookback), order 11 is new.
        mesh.land(
            "orders",
            {
                "id": [*range(1, 10), 10, 11],
                "day": _days(*range(1, 11), 11),
                "amount": [1.0] * 9 + [5.0, 11.0],
            },
        )
        result = mesh.run("materialize", "shop", "--json")
        assert result.exit_code == 0, result.output
        meta = _latest_metadata(mesh)
        assert (meta["mesh/rows_added"], meta["mesh/rows_updated"]) == (1, 1)
        assert meta["mesh/rows_deleted"] == 0
        assert meta["dagster/row_count"] == 11  # the table, not the 3 rows computed
        table = DeltaTable(str(mesh.lake("shop.latest"))).to_pyarrow_table().to_pylist()
        assert {r["id"]: r["amount"] for r in table} == {
            **{i: 1.0 for i in range(1, 10)},
            10: 5.0,
            11: 11.0,
        }
        page = json.loads(mesh.run("show", "shop.latest", "--json").stdout)
        latest = page["table_versions"][0]
        assert latest["operation"] == "MERGE: 1 added, 1 updated, 0 deleted", latest

        refreshed = mesh.run("materialize", "shop.latest", "--full-refresh")
        assert refreshed.exit_code == 0, refreshed.output
        commit = DeltaTable(str(mesh.lake("shop.latest"))).history(1)[0]
        assert commit["operation"] == "WRITE" and commit["operationParameters"]["mode"] == (
            "Overwrite"
        )
        assert "mesh/rows_added" not in _latest_metadata(mesh)  # replaced whole


def test_full_refresh_is_in_the_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        shown = mesh.run("materialize", "--help").output
    assert "--full-refresh" in shown and "mesh/full_refresh: true" in shown
