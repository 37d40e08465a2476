"""The standard pipeline template: structured logs, failure classification, domain hooks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.run.failures import BUSINESS_LOGIC, FAILURE_CLASS, FAILURE_STEP, PLATFORM
from tests import template_hooks
from tests.mini_mesh import domain_assets, local_lakehouse, write_mesh

SOURCE = """\
name: events
description: Landing copy of events.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""

RATIO = """\
name: ratio
description: Fails when an amount is not positive.
inputs: {events: events}
steps:
  - name: checked
    sql: >-
      SELECT id, CAST(CASE WHEN amount > 0 THEN 1 ELSE 9223372036854775807 END AS BIGINT) * 2
      AS checked_ok FROM events
"""


@pytest.fixture
def shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[dg.AssetsDefinition], Lakehouse]:
    # The recording hook keeps its events in this process: it runs here, unsandboxed (hooks in
    # the sandbox: tests/test_sandbox_modules.py).
    monkeypatch.setenv("MESH_SANDBOX", "off")
    root = write_mesh(
        tmp_path,
        {"shop": {"events": SOURCE, "ratio": RATIO}},
        domain_extra="template_hooks: ['tests.template_hooks:record']\n",
    )
    return domain_assets(root, "shop"), local_lakehouse(tmp_path)


def _catalog(root: Path) -> CatalogResource:
    return CatalogResource(url=f"sqlite:///{root / 'catalog.db'}")


def _failure(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    event = next(e for e in result.all_events if e.is_step_failure)
    data = event.step_failure_data.user_failure_data
    assert data is not None
    return {k: v.value for k, v in data.metadata.items()}


def test_a_failing_sql_step_is_business_logic(shop, tmp_path: Path) -> None:
    assets, lakehouse = shop
    pl.DataFrame({"id": [1, 2], "amount": [4.0, 0.0]}).write_parquet(
        tmp_path / "landing/events.parquet"
    )
    result = dg.materialize(
        assets,
        resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)},
        raise_on_error=False,
    )
    assert not result.success
    failure = _failure(result)
    assert failure[FAILURE_CLASS] == BUSINESS_LOGIC
    assert failure[FAILURE_STEP] == "checked"
    assert "mesh preview shop.ratio" in str(failure["mesh/guidance"])
    assert ("failure", "shop.ratio") in [(e, p) for e, p, _ in template_hooks.EVENTS]


def test_missing_landing_data_is_a_platform_failure(shop, tmp_path: Path) -> None:
    assets, lakehouse = shop
    result = dg.materialize(
        assets,
        selection=[dg.AssetKey(["shop", "events"])],
        resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)},
        raise_on_error=False,
    )
    failure = _failure(result)
    assert failure[FAILURE_CLASS] == PLATFORM
    assert "landing file" in str(failure["mesh/cause"])


def test_success_is_said_by_the_materialization_not_by_log_lines(shop, tmp_path: Path) -> None:
    """A success adds no log event (each is one more event stored per product): the step's
    events and the materialization's metadata say it, and the hooks get the facts."""
    assets, lakehouse = shop
    pl.DataFrame({"id": [1], "amount": [4.0]}).write_parquet(tmp_path / "landing/events.parquet")
    instance = dg.DagsterInstance.ephemeral()
    template_hooks.EVENTS.clear()
    result = dg.materialize(
        assets, resources={"lakehouse": lakehouse, "catalog": _catalog(tmp_path)}, instance=instance
    )
    assert result.success
    logs = instance.all_logs(result.run_id)
    assert not [r for r in logs if r.dagster_event is None and r.user_message.startswith("{")]
    assert not [r for r in logs if "wrote" in r.user_message]
    materialized = result.asset_materializations_for_node("shop__ratio")[0].metadata
    assert materialized["dagster/row_count"].value == 1
    assert materialized["mesh/delta_version"].value == 0
    # The template's hooks still hear of the success, with what was written.
    success = next(
        f for e, p, f in template_hooks.EVENTS if (e, p) == ("success", "shop.ratio")
    )
    assert success["run_id"] == result.run_id and success["seconds"] >= 0
    assert success["rows"] == 1 and success["delta_version"] == 0
    assert success["message"].startswith("shop.ratio: wrote 1 rows to ")
    assert ("start", "shop.ratio") in [(e, p) for e, p, _ in template_hooks.EVENTS]
    assert ("success", "shop.events") in [(e, p) for e, p, _ in template_hooks.EVENTS]
