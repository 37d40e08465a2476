"""Catalog outages at the sensors' ticks: the tick fails with the reason and keeps its place,
and once the catalog is back every alert is sent, exactly once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from mesh_platform.catalog import Alert, QualityResult
from mesh_platform.config import environment
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import Notifier
from mesh_platform.ops.quality_history import project_checks
from tests import test_routing_support as rs
from tests.test_catalog import (
    POSTGRES,
    catalog_url,  # noqa: F401  (the SQLite + PostgreSQL fixture)
)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[rs.Hooks]:
    hooks = rs.Hooks()
    monkeypatch.setenv("MESH_WEBHOOK_PLATFORM", f"{hooks.url}/platform")
    monkeypatch.setenv("MESH_WEBHOOK_SHOP", f"{hooks.url}/shop")
    with hooks.running():
        yield hooks


def _notifier(url: str) -> Notifier:
    return Notifier(
        catalog_url=url, ui_base_url="http://ui:3000", webhooks=environment.webhook_urls()
    )


@contextmanager
def catalog_read_only(url: str) -> Iterator[Notifier]:
    """The catalog turns read-only (a full disk, a failover to a replica) until the block ends;
    yields the notifier a sensor has during the outage."""
    _notifier(url).catalog()  # the catalog exists and is migrated before the outage
    if url.startswith("sqlite"):
        # Root ignores file permissions: open the same file through SQLite's read-only mode.
        path = url.removeprefix("sqlite:///")
        yield _notifier(f"sqlite:///file:{path}?mode=ro&uri=true")
        return
    name = sa.make_url(url).database
    admin = sa.create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")

    def reconnect_all(setting: str) -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" {setting}'))
            # Sessions keep the setting they started with: end them, as a failover would.
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )

    reconnect_all("SET default_transaction_read_only = on")
    try:
        yield _notifier(url)
    finally:
        reconnect_all("RESET default_transaction_read_only")
        admin.dispose()


def _alerts(notify: Notifier) -> list[Alert]:
    with notify.catalog().session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def _chain(error: BaseException | None) -> str:
    """The messages of an exception and its causes (the daemon shows the whole chain)."""
    texts = []
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


def test_a_failure_during_a_catalog_outage_is_alerted_once_the_catalog_is_back(
    tmp_path: Path,
    hooks: rs.Hooks,
    catalog_url: str,  # noqa: F811
) -> None:
    mesh = rs.build_mesh(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    notify = _notifier(catalog_url)
    # Run A fails (no landing file) and is routed at a healthy tick.
    first = rs.run(mesh, instance, selection=[dg.AssetKey(["shop", "events"])])
    assert not first.success
    after_first = rs.tick_failure_sensor(mesh.root, instance, notify, None)
    assert hooks.paths() == ["/platform"]

    # Run B fails (business logic) while the catalog cannot be written.
    rs.write_events(tmp_path, [1, 2], [4.0, 0.0])
    second = rs.run(mesh, instance)
    assert not second.success
    with catalog_read_only(catalog_url) as outage_notifier:
        for _ in range(2):  # every tick of the outage fails, none moves the cursor
            with pytest.raises(Exception) as caught:
                rs.tick_failure_sensor(mesh.root, instance, outage_notifier, after_first)
            reason = _chain(caught.value)
            assert f"failed run {second.run_id} could not be recorded" in reason
            assert "is unavailable" in reason and "accepts no writes" in reason
    assert hooks.paths() == ["/platform"]

    # The catalog is back: the next tick, from the kept cursor, routes run B, once.
    after_second = rs.tick_failure_sensor(mesh.root, instance, notify, after_first)
    assert after_second != after_first
    assert hooks.paths() == ["/platform", "/platform", "/shop"]
    assert rs.tick_failure_sensor(mesh.root, instance, notify, after_second) == after_second
    assert [(a.run_id, a.audience) for a in _alerts(notify)] == [
        (first.run_id, "platform"),
        (second.run_id, "platform"),
        (second.run_id, "domain"),
    ]
    assert len(hooks.received) == 3
    notify.catalog().engine.dispose()


def test_a_catalog_refusing_connections_fails_the_tick_and_keeps_the_cursor(
    tmp_path: Path, hooks: rs.Hooks
) -> None:
    mesh = rs.build_mesh(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    result = rs.run(mesh, instance, selection=[dg.AssetKey(["shop", "events"])])
    assert not result.success
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: the server is down
    down = _notifier(f"postgresql+psycopg://mesh:pw@127.0.0.1:{port}/catalog")
    with pytest.raises(Exception) as caught:
        rs.tick_failure_sensor(mesh.root, instance, down, None)
    reason = _chain(caught.value)
    assert f"mesh:***@127.0.0.1:{port}/catalog is unavailable" in reason
    assert ":pw@" not in reason
    assert hooks.received == []

    # Back (here: the catalog the location is configured with): the run is routed, once.
    notify = rs.notifier(tmp_path)
    cursor = rs.tick_failure_sensor(mesh.root, instance, notify, None)
    assert rs.tick_failure_sensor(mesh.root, instance, notify, cursor) == cursor
    assert hooks.paths() == ["/platform"]


def test_the_quality_history_skips_no_evaluation_after_an_outage(
    tmp_path: Path,
    hooks: rs.Hooks,
    catalog_url: str,  # noqa: F811
) -> None:
    mesh = rs.build_mesh(tmp_path)
    rs.write_events(tmp_path, [1, 1, 2], [4.0, 5.0, 6.0])  # the `warn` unique rule fails
    instance = dg.DagsterInstance.ephemeral()
    notify = _notifier(catalog_url)
    assert rs.run(mesh, instance).success
    rs.fire_quality_sensor(mesh, instance, notify)
    assert hooks.paths() == ["/shop"]

    # Two more evaluations while the catalog is read-only: the tick fails with the reason.
    assert rs.run(mesh, instance).success and rs.run(mesh, instance).success
    with catalog_read_only(catalog_url) as outage_notifier, pytest.raises(Exception) as caught:
        rs.fire_quality_sensor(mesh, instance, outage_notifier)
    assert "is unavailable" in _chain(caught.value)
    assert hooks.paths() == ["/shop"]

    # Back, reading one execution at a time (more evaluations than a page during the outage):
    # every evaluation is projected and alerted, each once.
    project_checks(instance, notify, MeshSpecs.load(mesh.root), per_check=1)
    rs.fire_quality_sensor(mesh, instance, notify)
    with notify.catalog().session() as session:
        unique = session.scalars(
            select(QualityResult.passed).where(QualityResult.check_name == "unique_id")
        ).all()
    assert unique == [False, False, False]
    assert [a.kind for a in _alerts(notify)] == ["quality"] * 3
    assert hooks.paths() == ["/shop"] * 3
    notify.catalog().engine.dispose()
