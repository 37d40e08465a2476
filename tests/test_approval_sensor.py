"""The approval sensor in the platform's code location: a spec's new cross-domain input becomes
a request that `mesh validate` reports; the policy's routes; two sensors at once (or a replay)
decide and notify each request once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from mesh_platform.access import request_subscription, subscriptions
from mesh_platform.access.routing import policy_rules, route_requests
from mesh_platform.catalog import Alert, Catalog, OutboxMessage, audit_entries
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader import mesh as loader_mesh
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import Notifier
from mesh_platform.ops import sensors as ops_sensors
from mesh_platform.ops.approvals import ACTOR, approvals_tick
from mesh_platform.ops.sensors import platform_sensors
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh

RESTRICTED = """\
name: vault
description: Restricted.
visibility: published
source: {landing: vault}
tags: {sensitivity: restricted}
columns:
  - {name: id, type: bigint}
"""
TOTALS = """\
name: totals
description: Doubled amounts.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""


def test_the_platform_location_runs_the_approval_sensor(tmp_path: Path) -> None:
    sensors = {s.name: s for s in platform_sensors(tmp_path).sensors or []}
    sensor = sensors["mesh_subscription_approvals"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 30
    platform = (Path(__file__).parents[1] / "domains/platform/definitions.py").read_text()
    assert "platform_sensors()" in platform


def test_a_tick_of_every_platform_sensor_loads_the_mesh_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.mini_mesh import write_mesh

    root = write_mesh(tmp_path / "mesh", {"shop": {"orders": ORDERS}, "books": {"totals": TOTALS}})
    loads: list[Path] = []

    def counted(at: Path) -> loader_mesh.Mesh:
        loads.append(at)
        return loader_mesh.load_healthy(at)

    monkeypatch.setattr(ops_sensors, "load_healthy", counted)
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    resources = {
        "catalog": CatalogResource(url=url),
        "notifier": Notifier(catalog_url=url),
        "lakehouse": Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path / "in")),
    }
    sensors = platform_sensors(root).sensors or []
    per_tick = []
    with dg.instance_for_test() as instance:
        for tick in range(3):
            if tick == 2:  # a spec edited between two ticks is seen by the next one
                with (root / "domains/shop/products/orders.yaml").open("a") as f:
                    f.write("tags: {tier: gold}\n")
            before = len(loads)
            for sensor in sensors:
                sensor.evaluate_tick(
                    dg.build_sensor_context(instance=instance, resources=resources)
                )
            per_tick.append(len(loads) - before)
    assert len(sensors) == 6
    assert per_tick == [1, 0, 1]


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}, "books": {}}, monkeypatch) as mesh:
        monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{mesh.home / 'catalog.db'}")
        yield mesh


def test_a_new_cross_domain_input_is_a_request_validate_reports(mesh: CliMesh) -> None:
    assert json.loads(mesh.run("validate", "--json").stdout) == {"ok": True, "products": 1}
    # books gains an input from shop: a request, which the policy approves at once (no
    # sensitive tags): validate has nothing waiting, and the sensor has nothing left to do.
    (mesh.root / "domains/books/products/totals.yaml").write_text(TOTALS)
    loader_mesh._load_cached.cache_clear()  # a new `mesh` process would read the spec afresh
    loader_mesh._specs_cached.cache_clear()
    result = mesh.run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: 2 products in 2 domains"
    catalog = Catalog.open(f"sqlite:///{mesh.home / 'catalog.db'}")
    with catalog.session() as session:
        assert [(e.action, e.actor) for e in audit_entries(session)] == [
            ("requested", "mesh validate"),
            ("approved", "policy:standards/access_policy.yaml"),
        ]
    _, summary = approvals_tick(
        catalog, Notifier(catalog_url=catalog.url), MeshSpecs.load(mesh.root)
    )
    assert summary.startswith("0 request(s) routed or decided, 0 declared read(s) waiting")
    assert mesh.run("validate").stdout.strip() == "ok: 2 products in 2 domains"


def test_the_policy_denies_what_it_hides_and_escalates_the_rest(tmp_path: Path) -> None:
    from tests.mini_mesh import grant_clearances, write_mesh

    write_mesh(tmp_path, {"shop": {"vault": RESTRICTED}, "books": {}, "audit": {}})
    with (tmp_path / "domains/audit/domain.yaml").open("a") as f:
        f.write("clearances: [restricted]\n")
    grant_clearances(tmp_path, {"audit": ["restricted"]})
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    for consumer in ("books", "audit"):
        request_subscription(catalog, consumer, "shop.vault", actor=consumer, purpose="x")
    # The platform's access policy (standards/access_policy.yaml) hides products tagged
    # `sensitivity: restricted` from consumers without the `restricted` clearance.
    assert policy_rules().hidden["sensitivity=restricted"] == {"restricted"}
    assert route_requests(catalog, MeshSpecs.load(tmp_path), actor=ACTOR) == [
        (1, "policy"),
        (2, "platform"),
    ]
    assert [(s.consumer, s.state, s.reason) for s in subscriptions(catalog)] == [
        (
            "books",
            "denied",
            "the access policy hides products tagged 'sensitivity=restricted' from it",
        ),
        ("audit", "requested", ""),
    ]


def test_two_sensors_at_once_decide_and_notify_each_request_once(tmp_path: Path) -> None:
    from tests.mini_mesh import write_mesh

    consumers = [f"c{i}" for i in range(8)]
    write_mesh(tmp_path, {"shop": {"orders": ORDERS}, **{c: {} for c in consumers}})
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    first = Catalog.open(url)  # the ticks share its engine (a pool of connections)
    for consumer in consumers:
        request_subscription(first, consumer, "shop.orders", actor=consumer, purpose="x")
    mesh = MeshSpecs.load(tmp_path)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def tick() -> None:
        # Each tick on connections of its own, from no cursor (a replay of the other).
        notifier = Notifier(catalog_url=url)
        barrier.wait()
        try:
            approvals_tick(notifier.catalog(), notifier, mesh)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with first.session() as session:
        actions = [e.action for e in audit_entries(session)]
        alerts = session.scalars(select(Alert.dedupe_key)).all()
        outbox = session.scalars(select(OutboxMessage.dedupe_key)).all()
    assert actions.count("approved") == len(consumers)
    # Two messages per approval (the producer's new consumer, the consumer's decision), once.
    assert len(alerts) == len(set(alerts)) == 2 * len(consumers)
    assert len(outbox) == len(set(outbox)) == 2 * len(consumers)
    assert {s.state for s in subscriptions(first)} == {"approved"}


def test_the_approvals_file_is_applied_by_the_sensor_without_notices(tmp_path: Path) -> None:
    from tests.mini_mesh import write_mesh

    write_mesh(tmp_path, {"shop": {"orders": ORDERS}, "books": {"totals": TOTALS}})
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    notifier = Notifier(catalog_url=url)
    _, summary = approvals_tick(notifier.catalog(), notifier, MeshSpecs.load(tmp_path))
    assert (
        summary
        == "0 request(s) routed or decided, 0 declared read(s) waiting, 0 notification(s) sent"
    )
    catalog = Catalog.open(url)
    assert [(s.consumer, s.product, s.state, s.decided_by) for s in subscriptions(catalog)] == [
        ("books", "shop.orders", "approved", "platform:subscriptions.yaml")
    ]
