"""Failure routing and soft failures, through real Dagster runs and the real sensors."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from mesh_platform.catalog import Alert
from tests import test_routing_support as rs


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> rs.Hooks:
    hooks = rs.Hooks()
    monkeypatch.setenv("MESH_WEBHOOK_PLATFORM", f"{hooks.url}/platform")
    monkeypatch.setenv("MESH_WEBHOOK_SHOP", f"{hooks.url}/shop")
    with hooks.running():
        yield hooks


def _alerts(notify) -> list[Alert]:
    with notify.catalog().session() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_a_broken_sql_step_alerts_platform_then_domain_once(tmp_path: Path, hooks) -> None:
    mesh = rs.build_mesh(tmp_path)
    rs.write_events(tmp_path, [1, 2], [4.0, 0.0])
    instance = dg.DagsterInstance.ephemeral()
    result = rs.run(mesh, instance)
    assert not result.success
    notify = rs.notifier(tmp_path)
    rs.fire_failure_sensor(mesh, instance, result.run_id, notify)
    alerts = _alerts(notify)
    assert [(a.audience, a.domain, a.failure_class) for a in alerts] == [
        ("platform", "shop", "business_logic"),
        ("domain", "shop", "business_logic"),
    ]
    domain = alerts[1]
    assert domain.product == "shop.ratio" and domain.severity == "medium"
    assert domain.time_to_recover_hours == 24
    assert f"http://ui:3000/runs/{result.run_id}" == domain.run_url
    assert hooks.paths() == ["/platform", "/shop"]
    text = hooks.received[1][1]["text"]
    assert "step 'checked'" in text and "mesh preview shop.ratio" in text
    assert f"/runs/{result.run_id}" in text
    # The daemon evaluates the sensor again (restart, repeated tick): nothing is sent twice.
    rs.fire_failure_sensor(mesh, instance, result.run_id, notify)
    assert len(_alerts(notify)) == 2 and len(hooks.received) == 2
    outbox = notify.outbox()
    assert {(m.channel, m.status) for m in outbox} == {
        ("outbox", "sent"),
        ("webhook:platform", "sent"),
        ("webhook:shop", "sent"),
        ("email:platform-oncall@example.com", "skipped"),
        ("email:shop-oncall@example.com", "skipped"),
    }
    assert len(outbox) == 6


def test_a_platform_failure_alerts_the_platform_only(tmp_path: Path, hooks) -> None:
    mesh = rs.build_mesh(tmp_path)  # no landing file: storage / landing is the platform's
    instance = dg.DagsterInstance.ephemeral()
    result = rs.run(mesh, instance, selection=[dg.AssetKey(["shop", "events"])])
    assert not result.success
    notify = rs.notifier(tmp_path)
    rs.fire_failure_sensor(mesh, instance, result.run_id, notify)
    alerts = _alerts(notify)
    assert [(a.audience, a.failure_class) for a in alerts] == [("platform", "platform")]
    assert "landing file" in alerts[0].body
    assert hooks.paths() == ["/platform"]


def test_a_failed_warn_rule_notifies_the_domain_and_downstream_runs(tmp_path: Path, hooks) -> None:
    mesh = rs.build_mesh(tmp_path)
    rs.write_events(tmp_path, [1, 1, 2], [4.0, 5.0, 6.0])
    instance = dg.DagsterInstance.ephemeral()
    result = rs.run(mesh, instance)
    assert result.success  # ratio, downstream of the failed warn rule, ran
    notify = rs.notifier(tmp_path)
    rs.fire_quality_sensor(mesh, instance, notify)
    rs.fire_quality_sensor(mesh, instance, notify)  # a repeated tick
    alerts = _alerts(notify)
    assert [(a.kind, a.audience, a.domain) for a in alerts] == [("quality", "domain", "shop")]
    assert "unique_id" in alerts[0].title and "2 rows" in alerts[0].body
    assert hooks.paths() == ["/shop"]


def test_a_soft_failure_is_logged_once_and_a_skipped_email_is_not_retried(
    tmp_path: Path, hooks, caplog: pytest.LogCaptureFixture
) -> None:
    """The quality sensor re-reads the newest failed evaluation on every tick: its alert is
    raised again (idempotently) but logged and counted once, and the e-mail it could not send
    (no SMTP server) stays `skipped` after one attempt, whatever the ticks and retry passes."""
    from datetime import timedelta

    from mesh_platform.catalog.models import utcnow
    from mesh_platform.ops.quality_history import build_quality_sensor
    from mesh_platform.ops.sensors import SensorMesh

    mesh = rs.build_mesh(tmp_path)
    rs.write_events(tmp_path, [1, 1, 2], [4.0, 5.0, 6.0])
    instance = dg.DagsterInstance.ephemeral()
    assert rs.run(mesh, instance).success
    notify = rs.notifier(tmp_path)
    sensor = build_quality_sensor(SensorMesh(mesh.root))
    messages = []
    with caplog.at_level("INFO", logger="mesh.notify"):
        for _ in range(4):
            context = dg.build_sensor_context(instance=instance, resources={"notifier": notify})
            messages.append(sensor.evaluate_tick(context).skip_message or "")
            notify.retry_due(now=utcnow() + timedelta(days=1))
    assert ["1 new alert" in m for m in messages] == [True, False, False, False], messages
    assert all("0 new alert" in m for m in messages[1:]), messages
    raised = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(raised) == 1 and "unique_id" in raised[0].getMessage()
    email = [r for r in caplog.records if "email:shop-oncall" in r.getMessage()]
    assert len(email) == 1 and "skipped" in email[0].getMessage()
    (message,) = [m for m in notify.outbox() if m.channel.startswith("email:")]
    assert (message.status, message.attempts) == ("skipped", 1)
    assert "no SMTP server" in (message.error or "")
    assert hooks.paths() == ["/shop"]


@pytest.mark.parametrize(
    ("failed_step", "audiences"),
    [("input:orders", ["domain"]), ("sql", ["platform", "domain"])],
)
def test_a_missing_input_alerts_only_the_consuming_domain(
    failed_step: str, audiences: list[str]
) -> None:
    from mesh_platform.loader.mesh import MeshSpecs
    from mesh_platform.ops.routing import FailureFacts, drafts_for_failure
    from mesh_platform.run.failures import BUSINESS_LOGIC

    facts = FailureFacts(
        step_key="sales__customer_revenue",
        product="sales.customer_revenue",
        failure_class=BUSINESS_LOGIC,
        failed_step=failed_step,
        cause="no table",
        guidance="materialize it first",
    )
    drafts = drafts_for_failure(facts, "run-1", "http://ui/runs/run-1", MeshSpecs.load())
    assert [d.audience for d in drafts] == audiences
    assert all(d.domain == "sales" for d in drafts)
