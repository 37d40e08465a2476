"""Versions and rollback: history, an exact restore, the audit log, consumers told by email,
and a hold that automation respects until the owner releases the product (docs/versions.md)."""

from __future__ import annotations

import datetime
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mesh_platform.access import approve, request_subscription
from mesh_platform.catalog import Catalog, audit_entries
from mesh_platform.dagster.holds import HELD_TAG
from mesh_platform.dagster.orchestration import imported_definitions
from mesh_platform.dagster.resources import build_notifier
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.run.version_records import hold_on
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh

SUMMARY = """\
name: summary
description: Order totals per parity of the id.
visibility: published
automation: eager
inputs: {orders: shop.orders}
columns:
  - {name: bucket, type: bigint}
  - {name: orders, type: bigint}
  - {name: amount, type: double}
steps:
  - sql: |
      SELECT id % 2 AS bucket, COUNT(*) AS orders, SUM(amount) AS amount
      FROM orders GROUP BY id % 2
"""
REVENUE = """\
name: revenue
description: Revenue read from the shop's summary.
inputs: {summary: shop.summary}
steps:
  - sql: SELECT SUM(amount) AS amount FROM summary
"""
MESH = {"shop": {"orders": ORDERS, "summary": SUMMARY}, "finance": {"revenue": REVENUE}}
SUMMARY_KEY = dg.AssetKey(["shop", "summary"])
FINANCE_MAIL = "finance-oncall@example.com"


def _orders(n: int, scale: float) -> dict[str, list[object]]:
    return {"id": list(range(n)), "amount": [i * scale for i in range(n)]}


def _expected(data: dict[str, list[object]]) -> pl.DataFrame:
    """The summary computed independently of the platform (polars over the landing data)."""
    return (
        pl.DataFrame(data)
        .group_by(bucket=pl.col("id") % 2)
        .agg(orders=pl.len().cast(pl.Int64), amount=pl.col("amount").sum())
        .sort("bucket")
    )


def _table(mesh: CliMesh, version: int | None = None) -> pl.DataFrame:
    path = str(mesh.lake("shop.summary"))
    frame = pl.read_delta(path, version=version)
    return frame.sort("bucket")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[bytes]]]:
    """A real local SMTP server recording what it receives."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    received: list[bytes] = []

    class Recorder(Sink):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(envelope.content)
            return "250 OK"

    port = _free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """The shop and finance mesh, with finance's on-call reachable by email."""
    with cli_mesh(tmp_path, MESH, monkeypatch) as built:
        with (tmp_path / "domains" / "finance" / "domain.yaml").open("a") as domain:
            domain.write(f"on_call: {FINANCE_MAIL}\n")
        for name, value in built.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        yield built


def _ok(mesh: CliMesh, *args: str) -> str:
    result = mesh.run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _automation_tick(
    mesh: CliMesh, instance: dg.DagsterInstance, cursor: object, minute: int
) -> tuple[object, dg.ExecuteInProcessResult | None]:
    """One automation evaluation over the shop location; the run it requests is launched with
    the location's assets and resources, as the automation sensor's run would be."""
    defs = imported_definitions("shop")
    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=cursor,  # type: ignore[arg-type]
        evaluation_time=datetime.datetime(2026, 11, 26, 12, minute),
    )
    if result.get_num_requested(SUMMARY_KEY) == 0:
        return result.cursor, None
    run = dg.materialize(
        [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)],
        selection=[SUMMARY_KEY],
        instance=instance,
        resources=defs.resources,
        tags={"dagster/from_automation_condition_evaluation": "true"},
    )
    return result.cursor, run


def test_rollback_restores_audits_notifies_and_holds_until_released(
    mesh: CliMesh, smtp: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, bad = _orders(6, 1.0), _orders(9, 100.0)
    mesh.land("orders", first)
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    good = _table(mesh)
    assert_frame_equal(good, _expected(first))
    mesh.land("orders", bad)
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    assert_frame_equal(_table(mesh), _expected(bad))

    history = json.loads(_ok(mesh, "history", "shop.summary", "--json"))
    versions = history["versions"]
    assert [v["version"] for v in versions] == [1, 0] and history["held"] is None
    assert {v["code_version"] for v in versions} == {"1.0.0"}
    assert [v["rows"] for v in versions] == [2, 2]
    with dg.DagsterInstance.get() as instance:
        for entry in versions:  # the run recorded is the Dagster run that wrote the version
            record = instance.get_run_record_by_id(entry["run_id"])
            assert record is not None and record.dagster_run.is_success

    # A domain with an approved subscription is told too, even before any product reads it.
    catalog = Catalog.open(f"sqlite:///{mesh.home / 'catalog.db'}")
    asked = request_subscription(catalog, "legal", "shop.summary", actor="lee", purpose="audit")
    approve(catalog, asked.subscription.id, actor="shop-team", reason="ok")
    port, received = smtp
    monkeypatch.setenv("MESH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MESH_SMTP_PORT", str(port))
    done = json.loads(
        _ok(
            mesh,
            "rollback",
            "shop.summary",
            "--to",
            "0",
            "--reason",
            "bad orders export",
            "--by",
            "alice",
            "--json",
        )
    )
    assert (done["from_version"], done["to_version"], done["new_version"]) == (1, 0, 2)
    assert done["notified"] == ["finance", "legal"]
    assert_frame_equal(_table(mesh), good)  # every row of version 0, exactly
    assert_frame_equal(_table(mesh, 1), _expected(bad))  # nothing deleted: 1 still readable

    with catalog.session() as session:
        [entry] = audit_entries(session, subject="product:shop.summary")
        assert (entry.actor, entry.action, entry.reason) == (
            "alice",
            "rolled_back",
            "bad orders export",
        )
        assert json.loads(entry.details) == {"from_version": 1, "to_version": 0, "new_version": 2}
    [mail] = received
    assert f"To: {FINANCE_MAIL}".encode() in mail
    assert b"shop.summary was rolled back to version 0" in mail
    assert b"bad orders export" in mail and b"finance.revenue" in mail
    [legal] = [m for m in build_notifier().outbox("rollback:") if "legal" in m.dedupe_key]
    assert f"subscription {asked.subscription.id}" in legal.body

    history = json.loads(_ok(mesh, "history", "shop.summary", "--json"))
    latest = history["versions"][0]
    assert (latest["operation"], latest["restored_from"], latest["by"]) == ("RESTORE", 0, "alice")
    assert latest["held"] and latest["code_version"] == "1.0.0"
    assert "alice rolled it back to version 0" in history["held"]
    shown = _ok(mesh, "history", "shop.summary").splitlines()
    assert shown[0] == history["held"] and "restored version 0; by alice" in shown[2]
    assert shown[2].rstrip().endswith("current, held")

    # Automation: new orders land and are written; the held summary's eager condition fires, and
    # its run succeeds without writing, saying why.
    with dg.DagsterInstance.get() as instance:
        cursor, run = _automation_tick(mesh, instance, None, 0)
        assert run is None
        mesh.land("orders", _orders(10, 7.0))
        _ok(mesh, "materialize", "shop.orders")
        cursor, run = _automation_tick(mesh, instance, cursor, 1)
        assert run is not None and run.success
        assert not run.get_asset_materialization_events()
        held_run = instance.get_run_by_id(run.run_id)
        assert held_run is not None and held_run.tags[HELD_TAG] == "shop.summary"
        logs = instance.all_logs(run.run_id)
        warnings = [e.message for e in logs if e.level == logging.WARNING]
        assert any("shop.summary is held" in w and "bad orders export" in w for w in warnings)
        assert not [e for e in run.all_events if e.is_failure]
        # The tick after a request treats it as handled (Dagster's eager): nothing new.
        cursor, run = _automation_tick(mesh, instance, cursor, 2)
        assert run is None
    assert_frame_equal(_table(mesh), good)
    assert (
        Lakehouse(root=str(mesh.home / "lake"), landing_root="").version(("shop", "summary")) == 2
    )

    # A manual materialization does not overwrite it either.
    mesh.run("materialize", "shop.summary")
    assert_frame_equal(_table(mesh), good)

    _ok(mesh, "release", "shop.summary", "--reason", "export fixed", "--by", "alice")
    with catalog.session() as session:
        actions = [e.action for e in audit_entries(session, subject="product:shop.summary")]
    assert actions == ["rolled_back", "released"]
    fixed = _orders(11, 2.0)
    with dg.DagsterInstance.get() as instance:
        mesh.land("orders", fixed)
        _ok(mesh, "materialize", "shop.orders")
        cursor, run = _automation_tick(mesh, instance, cursor, 3)
        assert run is not None and run.success and run.get_asset_materialization_events()
    assert_frame_equal(_table(mesh), _expected(fixed))
    assert json.loads(_ok(mesh, "history", "shop.summary", "--json"))["held"] is None


def test_rollback_to_a_time_and_clean_refusals(mesh: CliMesh) -> None:
    mesh.land("orders", _orders(3, 1.0))
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    between = datetime.datetime.now(datetime.UTC)
    mesh.land("orders", _orders(8, 3.0))
    _ok(mesh, "materialize", "shop.orders", "shop.summary")

    for target, says in [
        ("1", "is already at version 1"),
        ("7", "has no version 7: its versions are 0 to 1"),
        ("yesterday", "neither a version number"),
        ("2000-01-01T00:00:00", "had no version yet at 2000-01-01"),
    ]:
        refused = mesh.run("rollback", "shop.summary", "--to", target, "--reason", "r")
        assert refused.exit_code != 0 and says in refused.output, refused.output
        assert "Traceback" not in refused.output
    refused = mesh.run("release", "shop.summary", "--reason", "r")
    assert refused.exit_code != 0 and "shop.summary is not held" in refused.output

    done = json.loads(
        _ok(
            mesh, "rollback", "shop.summary", "--to", between.isoformat(), "--reason", "r", "--json"
        )
    )
    assert done["to_version"] == 0 and done["notified"] == ["finance"]
    assert_frame_equal(_table(mesh), _expected(_orders(3, 1.0)))


def test_a_held_product_stays_held_when_the_catalog_is_down(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    lakehouse = Lakehouse(root=str(mesh.home / "lake"), landing_root=str(mesh.home / "landing"))
    mesh.land("orders", _orders(3, 1.0))
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    mesh.land("orders", _orders(4, 1.0))
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    down = "postgresql+psycopg://127.0.0.1:9/x?connect_timeout=2"
    assert hold_on(lakehouse, ("shop", "summary"), down) is None  # last commit is a write
    _ok(mesh, "rollback", "shop.summary", "--to", "0", "--reason", "r")
    notice = hold_on(lakehouse, ("shop", "summary"), down)
    assert notice is not None and "the catalog" in notice.message and notice.hold_id is None


ROLL_BACK_WHEN_STARTED: list[str] = []  # products the hook below rolls back to version 0, once


def roll_back_when_started(event: str, spec: Any, facts: dict[str, Any]) -> None:
    """A template hook: roll the product back while its own run is computing it."""
    from mesh_platform.config import environment
    from mesh_platform.loader.mesh import MeshSpecs
    from mesh_platform.ops.rollback import rollback
    from mesh_platform.spec import workspace

    if event != "start" or spec.qualified_name not in ROLL_BACK_WHEN_STARTED:
        return
    ROLL_BACK_WHEN_STARTED.remove(spec.qualified_name)
    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    mesh = MeshSpecs.load(workspace.repo_root())
    rollback(mesh, lakehouse, build_notifier(), spec.qualified_name, 0, reason="race", by="bob")


def test_a_rollback_during_a_run_is_not_overwritten_by_that_run(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hook stands for a rollback from another process: it writes the lake, so it runs
    # here, unsandboxed (a sandboxed hook cannot: tests/test_sandbox_modules.py).
    monkeypatch.setenv("MESH_SANDBOX", "off")
    with (mesh.root / "domains" / "shop" / "domain.yaml").open("a") as domain:
        domain.write("template_hooks: ['tests.test_rollback:roll_back_when_started']\n")
    first = _orders(3, 1.0)
    mesh.land("orders", first)
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    mesh.land("orders", _orders(5, 1.0))
    _ok(mesh, "materialize", "shop.orders", "shop.summary")
    mesh.land("orders", _orders(7, 1.0))
    ROLL_BACK_WHEN_STARTED.append("shop.summary")
    result = json.loads(mesh.run("materialize", "shop.orders", "shop.summary", "--json").output)
    assert not ROLL_BACK_WHEN_STARTED, "the hook ran"
    [run] = result["runs"]
    assert run["success"] and run["materialized"] == ["orders"] and not result["failures"]
    with dg.DagsterInstance.get() as instance:
        tagged = instance.get_run_by_id(run["run_id"])
        assert tagged is not None and tagged.tags[HELD_TAG] == "shop.summary"
    assert_frame_equal(_table(mesh), _expected(first))  # the rollback stands
    history = json.loads(_ok(mesh, "history", "shop.summary", "--json"))
    assert [v["operation"] for v in history["versions"]] == ["RESTORE", "WRITE", "WRITE"]


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty catalog database: a SQLite file, or a new database on the local PostgreSQL."""
    import uuid

    import sqlalchemy as sa

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    name = f"mesh_versions_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_one_active_hold_per_product_and_releases_are_kept(catalog_url: str) -> None:
    import sqlalchemy as sa

    from mesh_platform.run.version_records import ProductHold, holds, place_hold, release_hold

    catalog = Catalog(catalog_url)
    with catalog.session() as session:
        place_hold(session, "a.b", by="x", reason="r1", rolled_back_to=0, version=2)
        again = place_hold(session, "a.b", by="y", reason="r2", rolled_back_to=1, version=3)
        assert (again.held_by, again.rolled_back_to, again.delta_version) == ("y", 1, 3)
    with catalog.session() as session:
        release_hold(session, "a.b", by="x", reason="fixed")
        place_hold(session, "a.b", by="z", reason="r3", rolled_back_to=3, version=4)
    with pytest.raises(sa.exc.IntegrityError), catalog.session() as session:
        session.add(
            ProductHold(product="a.b", held_by="q", reason="r", rolled_back_to=0, delta_version=5)
        )
    with catalog.session() as session:
        kept = holds(session, "a.b")
        assert [(h.held_by, h.released_by) for h in kept] == [("y", "x"), ("z", None)]
    catalog.engine.dispose()
