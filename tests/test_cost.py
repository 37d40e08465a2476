"""Cost per run: real materializations record what they consumed, priced with the configured
rates, once per run; roll-ups add up; a catalog outage does not fail the run; development runs
(preview, product tests) are costed too."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mesh_platform.catalog import Catalog
from mesh_platform.catalog.models import RunCost
from mesh_platform.cli import main
from mesh_platform.cost import CostEntry, CostRates, record_cost
from mesh_platform.dagster.resources import build_catalog
from mesh_platform.engine import Usage
from tests.mini_mesh import domain_assets, local_lakehouse, write_mesh

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
PRODUCTS = {
    "shop": {
        "events": """\
            name: events
            description: Landing copy of events.
            source: {landing: events}
            columns:
              - {name: id, type: bigint}
              - {name: kind, type: string}
              - {name: amount, type: double}
            """,
        "totals": """\
            name: totals
            description: Total per kind.
            inputs: {events: events}
            steps:
              - sql: SELECT kind, sum(amount) AS total FROM events GROUP BY kind
            """,
    }
}


@pytest.fixture
def mesh_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny mesh with its landing file, MESH_HOME and the catalog in the temporary folder."""
    write_mesh(tmp_path, PRODUCTS)
    local_lakehouse(tmp_path)
    pl.DataFrame(
        {"id": [1, 2, 3, 4], "kind": ["a", "b", "a", "b"], "amount": [1.0, 2.0, 3.0, 4.0]}
    ).write_parquet(tmp_path / "landing/events.parquet")
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("MESH_COST_UNITS_PER_CORE_HOUR", "2.0")
    monkeypatch.setenv("MESH_COST_DOLLARS_PER_UNIT", "0.5")
    return tmp_path


def _run(root: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        domain_assets(root, "shop"),
        resources={
            "lakehouse": local_lakehouse(root),
            "catalog": build_catalog(),  # MESH_CATALOG_URL, as a code location builds it
        },
        instance=instance,
        raise_on_error=False,
    )


def _rows(url: str) -> list[RunCost]:
    with Catalog.open(url).session() as session:
        return list(session.scalars(sa.select(RunCost).order_by(RunCost.product)))


def test_a_run_records_its_cost_once_consistent_with_metadata_and_rates(
    mesh_root: Path,
) -> None:
    url = f"sqlite:///{mesh_root / 'catalog.db'}"
    with dg.instance_for_test() as instance:
        result = _run(mesh_root, instance)
    assert result.success
    rows = _rows(url)
    assert [(r.product, r.kind, r.domain, r.team) for r in rows] == [
        ("shop.events", "run", "shop", "shop-team"),
        ("shop.totals", "run", "shop", "shop-team"),
    ]
    metadata = {
        tuple(e.asset_key.path): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    for row in rows:
        meta = metadata[tuple(row.product.split("."))]
        assert row.run_id == result.run_id and row.cpu_seconds > 0
        assert meta["mesh/cpu_seconds"] == row.cpu_seconds
        assert math.isclose(row.units, row.cpu_seconds / 3600 * 2.0, rel_tol=1e-9)
        assert math.isclose(row.dollars, row.units * 0.5, rel_tol=1e-9)
        assert math.isclose(meta["mesh/cost_units"], row.units, rel_tol=1e-9)
        assert math.isclose(meta["mesh/cost_dollars"], row.dollars, rel_tol=1e-9)
        assert meta["mesh/rows_written"] == row.rows_written and row.bytes_written > 0
        assert meta["mesh/peak_memory_mb"] == row.process_peak_memory_mb > 0
    totals = next(r for r in rows if r.product == "shop.totals")
    assert (totals.rows_read, totals.rows_written) == (4, 2) and totals.bytes_read > 0
    # Recording the same run again (a retried step) adds nothing.
    again = CostEntry(
        "shop.totals", "shop", result.run_id, "run", Usage(1.0, 1.0), CostRates()
    )
    assert record_cost(url, again) is None
    assert len(_rows(url)) == 2


def _known_rows(url: str) -> None:
    known = [
        ("sales.a", "sales", "sales-team", "run", 3600.0),
        ("sales.b", "sales", None, "development", 1800.0),
        ("ops.c", "ops", "platform", "run", 7200.0),
    ]
    for product, domain, team, kind, cpu in known:
        entry = CostEntry(
            product, domain, f"known-{product}", kind, Usage(cpu, cpu), CostRates(), team,
            started_at=datetime(2026, 3, 2, 10, tzinfo=UTC),
        )
        assert record_cost(url, entry) is None


def test_roll_ups_add_up_by_product_domain_and_team(mesh_root: Path) -> None:
    url = f"sqlite:///{mesh_root / 'catalog.db'}"
    with dg.instance_for_test() as instance:
        assert _run(mesh_root, instance).success
    _known_rows(url)
    runner = CliRunner()
    totals = {}
    for by in ("product", "domain", "team"):
        args = ["cost", "--by", by, "--month", "--since", "2026-01-01", "--json"]
        out = runner.invoke(main, args)
        assert out.exit_code == 0, out.output
        rows = json.loads(out.output)
        assert rows and all(r["runs"] >= 1 for r in rows)
        totals[by] = (
            sum(r["runs"] for r in rows),
            round(sum(r["cpu_seconds"] for r in rows), 6),
            round(sum(r["units"] for r in rows), 9),
            round(sum(r["dollars"] for r in rows), 9),
        )
    assert totals["product"] == totals["domain"] == totals["team"]
    assert totals["product"][0] == 5
    everything = sum(r.units for r in _rows(url))
    assert math.isclose(totals["product"][2], everything, rel_tol=1e-6)
    march = json.loads(
        runner.invoke(main, ["cost", "--by", "domain", "--month", "--json"]).output
    )
    ops = next(r for r in march if r["group"] == "ops" and r["period"] == "2026-03")
    assert (ops["runs"], ops["units"], ops["dollars"]) == (1, 2.0, 1.1)
    development = json.loads(
        runner.invoke(main, ["cost", "--kind", "development", "--json"]).output
    )
    assert [r["group"] for r in development] == ["sales.b"]


def test_a_catalog_outage_does_not_fail_the_run(
    mesh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESH_CATALOG_URL", "postgresql+psycopg://127.0.0.1:9/x?connect_timeout=2")
    with dg.instance_for_test() as instance:
        result = _run(mesh_root, instance)
        logs = [e.message for e in instance.all_logs(result.run_id)]
    assert result.success
    assert any("not recorded" in m for m in logs), logs
    for event in result.get_asset_materialization_events():
        assert event.materialization.metadata["mesh/cpu_seconds"].value > 0


def test_preview_and_product_tests_record_development_runs(mesh_root: Path) -> None:
    from mesh_platform.dev.preview import costed_preview
    from mesh_platform.dev.product_tests import ProductTestCase, record_development, run_case
    from mesh_platform.loader.mesh import load_mesh
    from mesh_platform.security.keys import Keyring

    url = f"sqlite:///{mesh_root / 'catalog.db'}"
    with dg.instance_for_test() as instance:
        assert _run(mesh_root, instance).success
    mesh = load_mesh(mesh_root)
    rates = CostRates.from_environment()
    preview = costed_preview(
        mesh, "shop.totals", local_lakehouse(mesh_root), Keyring.dev(), url, rates
    )
    assert preview.warnings == () and "last production run" in preview.estimate.source
    case = ProductTestCase(
        "shop.totals", "sums", {"events": [{"id": 1, "kind": "a", "amount": 2.0}]},
        [{"kind": "a", "total": 2.0}], mesh_root, None,
    )
    result = run_case(case, mesh)
    assert result.passed
    assert not [r for r in _rows(url) if r.run_id.startswith("test-")], "only `mesh test` records"
    record_development(result, mesh)
    development = [r for r in _rows(url) if r.kind == "development"]
    assert [(r.product, r.domain) for r in development] == [("shop.totals", "shop")] * 2
    assert {r.run_id.split("-")[0] for r in development} == {"preview", "test"}


def test_postgresql_keeps_one_row_per_run_product_and_kind() -> None:
    try:
        with sa.create_engine(f"{POSTGRES}/test").connect():
            pass
    except Exception:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    name = f"mesh_cost_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{POSTGRES}/{name}"
        entry = CostEntry("shop.totals", "shop", "r1", "run", Usage(2.0, 1.5), CostRates())
        assert record_cost(url, entry) is None
        assert record_cost(url, entry) is None  # a retry: left as recorded
        rows = _rows(url)
        assert len(rows) == 1 and math.isclose(rows[0].units, 1.5 / 3600)
        Catalog.open(url).engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
