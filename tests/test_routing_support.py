"""Helpers of the routing and notification tests (no tests here): a tiny mesh, a webhook
server, the sensors evaluated as the daemon would."""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import polars as pl

from mesh_platform.config import environment
from mesh_platform.dagster.location import location_definitions
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.notify import Notifier
from mesh_platform.ops.quality_history import build_quality_sensor
from mesh_platform.ops.routing import build_failure_sensor
from mesh_platform.ops.sensors import SensorMesh
from tests.mini_mesh import write_approvals

PLATFORM = """\
name: platform
team: data-platform
on_call: platform-oncall@example.com
channels: [webhook:platform]
severity: high
time_to_recover_hours: 4
"""

SHOP = """\
name: shop
team: shop
on_call: shop-oncall@example.com
channels: [webhook:shop]
severity: medium
time_to_recover_hours: 24
"""

EVENTS = """\
name: events
description: Landing copy of events.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
quality:
  - {rule: unique, column: id, severity: warn}
"""

# `assert_true` is refused at load (compile/functions.py: use quality rules), so the step fails
# at run time the way domain SQL does: arithmetic that overflows on a non-positive amount.
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


class Hooks:
    """A Slack-compatible webhook receiver on 127.0.0.1, recording each POSTed JSON body.

    `fail_first`: how many requests are answered 500 (and not recorded) before it accepts
    (`math.inf`: never); `delay`: seconds each answer takes (to make concurrent senders meet).
    """

    def __init__(self, fail_first: float = 0, delay: float = 0.0) -> None:
        self.received: list[tuple[str, dict]] = []
        self.requests = 0  # every POST, answered 500 or accepted
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with lock:
                    owner.requests += 1
                    failing = owner.requests <= fail_first
                time.sleep(delay)
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"internal error")
                    return
                owner.received.append((self.path, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[Hooks]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()

    def paths(self) -> list[str]:
        return [p for p, _ in self.received]


def build_mesh(root: Path, events: str = EVENTS) -> Mesh:
    """A mesh with a platform domain and a `shop` domain (events -> ratio)."""
    (root / "domains/platform").mkdir(parents=True)
    (root / "domains/platform/domain.yaml").write_text(PLATFORM)
    shop = root / "domains/shop"
    (shop / "products").mkdir(parents=True)
    (shop / "domain.yaml").write_text(SHOP)
    (shop / "products/events.yaml").write_text(events)
    (shop / "products/ratio.yaml").write_text(RATIO)
    (root / "landing").mkdir()
    write_approvals(root)  # names shop, which ingests here, as a landing domain
    return load_mesh(root)


def assets_of(mesh: Mesh) -> list[dg.AssetsDefinition]:
    defs = location_definitions(mesh.root, "shop")
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]


def write_events(root: Path, ids: list[int], amounts: list[float]) -> None:
    pl.DataFrame({"id": ids, "amount": amounts}).write_parquet(root / "landing/events.parquet")


def run(mesh: Mesh, instance: dg.DagsterInstance, **kwargs: object) -> dg.ExecuteInProcessResult:
    lakehouse = Lakehouse(root=str(mesh.root / "lake"), landing_root=str(mesh.root / "landing"))
    return dg.materialize(
        assets_of(mesh),
        resources={
            "lakehouse": lakehouse,
            "catalog": CatalogResource(url=f"sqlite:///{mesh.root / 'catalog.db'}"),
        },
        instance=instance,
        raise_on_error=False,
        **kwargs,  # type: ignore[arg-type]
    )


def notifier(root: Path) -> Notifier:
    """The notifier as a location builds it: webhook URLs from `MESH_WEBHOOK_<NAME>`."""
    return Notifier(
        catalog_url=f"sqlite:///{root / 'catalog.db'}",
        ui_base_url="http://ui:3000",
        webhooks=environment.webhook_urls(),
    )


# The failure-routing sensor's cursor per instance, kept between ticks as the daemon keeps it.
_CURSORS: weakref.WeakKeyDictionary[dg.DagsterInstance, str | None] = (
    weakref.WeakKeyDictionary()
)


def tick_failure_sensor(
    mesh_root: Path, instance: dg.DagsterInstance, notify: Notifier, cursor: str | None
) -> str | None:
    """One tick of the failure-routing sensor from `cursor`, as the daemon runs it: the new
    cursor when the tick succeeds; a failed tick raises and the daemon keeps the old cursor."""
    sensor = build_failure_sensor(SensorMesh(mesh_root))
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"notifier": notify}
    )
    data = sensor.evaluate_tick(context)
    return data.cursor if data.cursor is not None else cursor


def fire_failure_sensor(
    mesh: Mesh, instance: dg.DagsterInstance, run_id: str, notify: Notifier
) -> None:
    """Evaluate the failure-routing sensor after a run's failure, as the daemon would: one tick
    from the cursor the previous tick left on this instance."""
    dagster_run = instance.get_run_by_id(run_id)
    assert dagster_run is not None and dagster_run.status == dg.DagsterRunStatus.FAILURE
    _CURSORS[instance] = tick_failure_sensor(mesh.root, instance, notify, _CURSORS.get(instance))


def fire_quality_sensor(mesh: Mesh, instance: dg.DagsterInstance, notify: Notifier) -> None:
    """One tick of the quality-history sensor."""
    context = dg.build_sensor_context(instance=instance, resources={"notifier": notify})
    build_quality_sensor(SensorMesh(mesh.root))(context)
