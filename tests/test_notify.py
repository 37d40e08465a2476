"""The notifier: durable outbox, idempotent delivery, webhook and email against real servers."""

from __future__ import annotations

import socket
from pathlib import Path

from mesh_platform.notify import AlertDraft, Notifier
from tests import test_routing_support as rs
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)


def _draft(key: str = "test:1", recipients: tuple[str, ...] = ("webhook:team",)) -> AlertDraft:
    return AlertDraft(
        dedupe_key=key,
        kind="run_failure",
        audience="domain",
        domain="shop",
        title="shop.ratio failed",
        body="What failed: step 'checked'.",
        severity="medium",
        recipients=recipients,
        run_id="abc",
        run_url="http://ui/runs/abc",
        time_to_recover_hours=24,
    )


def test_publishing_twice_sends_once(catalog_url: str) -> None:  # noqa: F811
    hooks = rs.Hooks()
    notifier = Notifier(catalog_url=catalog_url, webhooks={"team": f"{hooks.url}/team"})
    with hooks.running():
        first = notifier.publish(_draft())
        again = notifier.publish(_draft())
    assert first.id == again.id
    assert len(hooks.received) == 1
    assert hooks.received[0][1]["text"].startswith("*shop.ratio failed*")
    assert "Run: http://ui/runs/abc" in hooks.received[0][1]["text"]
    assert [(m.channel, m.status, m.attempts) for m in notifier.outbox()] == [
        ("outbox", "sent", 1),
        ("webhook:team", "sent", 1),
    ]
    notifier.catalog().engine.dispose()


def test_a_failed_delivery_is_recorded_and_retried(tmp_path: Path) -> None:
    hooks = rs.Hooks()
    catalog = f"sqlite:///{tmp_path / 'c.db'}"
    notifier = Notifier(
        catalog_url=catalog, webhooks={"team": "http://127.0.0.1:9/nothing-listens-here"}
    )
    notifier.publish(_draft())
    failed = notifier.outbox()[1]
    assert failed.status == "failed" and "unreachable" in (failed.error or "")
    # The endpoint is fixed (the resource is rebuilt with the right URL): the retry sends once.
    notifier = Notifier(catalog_url=catalog, webhooks={"team": f"{hooks.url}/team"})
    with hooks.running():
        notifier.publish(_draft())
        notifier.publish(_draft())
    assert len(hooks.received) == 1
    assert [(m.status, m.attempts) for m in notifier.outbox()][1] == ("sent", 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_email_goes_through_a_real_smtp_server(tmp_path: Path) -> None:
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
        notifier = Notifier(
            catalog_url=f"sqlite:///{tmp_path / 'c.db'}", smtp_host="127.0.0.1", smtp_port=port
        )
        notifier.publish(_draft(recipients=("email:shop-oncall@example.com",)))
        notifier.publish(_draft(recipients=("email:shop-oncall@example.com",)))
    finally:
        controller.stop()
    assert len(received) == 1
    assert b"Subject: shop.ratio failed" in received[0]
    assert b"To: shop-oncall@example.com" in received[0]
