"""Subscriptions: the whole lifecycle through `mesh` and the approval sensor, with the emails
a real SMTP server receives and the audit log; decisions exactly once under concurrency on
SQLite and on the local PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from mesh_platform.access import (
    SubscriptionError,
    approve,
    deny,
    request_subscription,
    revoke,
    subscription,
)
from mesh_platform.catalog import AuditEntry, Catalog, audit_entries
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.notify import Notifier
from mesh_platform.ops.approvals import build_approval_sensor
from mesh_platform.ops.sensors import SensorMesh
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)

CUSTOMERS = """\
name: customers
description: Customers with their email.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: email, type: string, tags: [pii]}
"""
LEDGER = """\
name: ledger
description: The shop's ledger; confidential.
visibility: published
source: {landing: ledger}
tags: {sensitivity: confidential}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""
DRAFTS = """\
name: drafts
description: Not for other domains.
source: {landing: drafts}
columns:
  - {name: id, type: bigint}
"""
READER = """\
name: totals
description: Doubled amounts.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""


def domain_yaml(name: str) -> str:
    return f"name: {name}\nteam: {name}-team\non_call: {name}-oncall@example.com\n"


@dataclass
class Mailbox:
    """A real SMTP server on localhost: what it received, as (recipient, subject)."""

    port: int
    received: list[tuple[str, str]] = field(default_factory=list)

    def take(self) -> list[tuple[str, str]]:
        taken, self.received[:] = sorted(self.received), []
        return taken


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    box = Mailbox(port)

    class Recorder(Sink):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            message = message_from_bytes(envelope.content)
            box.received.append((str(message["To"]), str(message["Subject"])))
            return "250 OK"

    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    products = {
        "shop": {"orders": ORDERS, "customers": CUSTOMERS, "ledger": LEDGER, "drafts": DRAFTS},
        "books": {"totals": READER},
        "platform": {},
    }
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        for domain in products:
            (tmp_path / "domains" / domain / "domain.yaml").write_text(domain_yaml(domain))
        (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop]\n")
        monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{mesh.home / 'catalog.db'}")
        yield mesh


def _tick(mesh: CliMesh, box: Mailbox, cursor: str | None) -> str | None:
    """One evaluation of the approval sensor, as the daemon runs it."""
    notifier = Notifier(
        catalog_url=f"sqlite:///{mesh.home / 'catalog.db'}",
        smtp_host="127.0.0.1",
        smtp_port=box.port,
    )
    sensor = build_approval_sensor(SensorMesh(mesh.root))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"catalog": CatalogResource(url=notifier.catalog_url), "notifier": notifier},
        )
        sensor(context)
        return context.cursor


def _ok(mesh: CliMesh, *args: str) -> Any:
    result = mesh.run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _history(mesh: CliMesh, ident: int) -> list[tuple[str, str]]:
    result = mesh.run("audit", "--subscription", str(ident), "--json")
    assert result.exit_code == 0, result.output
    return [(e["action"], e["actor"]) for e in json.loads(result.stdout)]


SENSOR = "sensor:mesh_subscription_approvals"
# `mesh subscribe` routes (or decides) a request at once, audited as the policy's decision.
POLICY = "policy:standards/access_policy.yaml"


def test_the_whole_lifecycle_with_notifications_and_audit(shop: CliMesh, mailbox: Mailbox) -> None:
    # The consumer's declared input has no subscription yet: the first tick requests it, and
    # the policy approves it (no sensitive tag); the producer hears of its new consumer.
    cursor = _tick(shop, mailbox, None)
    orders = _ok(shop, "subscriptions", "--consumer", "books")
    assert [(s["product"], s["state"], s["route"]) for s in orders] == [
        ("shop.orders", "approved", "auto")
    ]
    assert mailbox.take() == [
        ("books-oncall@example.com", "Subscription 1 approved: books may read shop.orders"),
        ("shop-oncall@example.com", "New consumer of shop.orders: books"),
    ]

    # PII: escalated to the platform team, approved there; producer and consumer are told.
    pii = _ok(shop, "subscribe", "shop.customers", "--as", "books", "--purpose", "mailing")
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        (
            "platform-oncall@example.com",
            f"Subscription {pii['id']}: books asks to read shop.customers",
        )
    ]
    assert _ok(shop, "subscriptions", "--state", "requested")[0]["route"] == "platform"
    _ok(shop, "approve", str(pii["id"]), "--by", "platform-team", "--reason", "DPA signed")
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        (
            "books-oncall@example.com",
            f"Subscription {pii['id']} approved: books may read shop.customers",
        ),
        ("shop-oncall@example.com", "New consumer of shop.customers: books"),
    ]

    # A confidential product goes to its producer, who denies; the consumer asks again (a new
    # round, routed again), is approved, then revoked.
    led = _ok(shop, "subscribe", "shop.ledger", "--as", "books", "--purpose", "audit")["id"]
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        ("shop-oncall@example.com", f"Subscription {led}: books asks to read shop.ledger")
    ]
    _ok(shop, "deny", str(led), "--by", "shop-lead", "--reason", "not needed")
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        ("books-oncall@example.com", f"Subscription {led} denied: books may not read shop.ledger")
    ]
    again = _ok(shop, "subscribe", "shop.ledger", "--as", "books", "--purpose", "yearly audit")
    assert (again["id"], again["state"], again["round"]) == (led, "requested", 2)
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        ("shop-oncall@example.com", f"Subscription {led}: books asks to read shop.ledger")
    ]
    _ok(shop, "approve", str(led), "--by", "shop-lead", "--reason", "yearly audit is fine")
    _ok(shop, "revoke", str(led), "--by", "shop-lead", "--reason", "audit over")
    cursor = _tick(shop, mailbox, cursor)
    assert mailbox.take() == [
        ("books-oncall@example.com", f"Subscription {led} approved: books may read shop.ledger"),
        ("books-oncall@example.com", f"Subscription {led} revoked: books may not read shop.ledger"),
        ("shop-oncall@example.com", "New consumer of shop.ledger: books"),
    ]
    assert _history(shop, led) == [
        ("requested", "books"),
        ("routed", POLICY),
        ("denied", "shop-lead"),
        ("requested", "books"),
        ("routed", POLICY),
        ("approved", "shop-lead"),
        ("revoked", "shop-lead"),
    ]

    # What the policy forbids (an unpublished product) is denied by `mesh subscribe` itself.
    drafts = _ok(shop, "subscribe", "shop.drafts", "--as", "books", "--purpose", "x")["id"]
    _tick(shop, mailbox, cursor)
    assert _history(shop, drafts) == [("requested", "books"), ("denied", POLICY)]
    assert mailbox.take() == [
        (
            "books-oncall@example.com",
            f"Subscription {drafts} denied: books may not read shop.drafts",
        )
    ]

    # A replay from the start (a lost cursor, a second daemon) sends nothing again.
    _tick(shop, mailbox, None)
    assert mailbox.take() == []


def test_commands_refuse_what_makes_no_sense(shop: CliMesh) -> None:
    unknown = shop.run("subscribe", "shop.nothing", "--as", "books", "--purpose", "x")
    assert unknown.exit_code == 1 and "no product 'shop.nothing'" in unknown.output
    own = shop.run("subscribe", "shop.orders", "--as", "shop", "--purpose", "x")
    assert own.exit_code == 1 and "reads its own products without a subscription" in own.output
    ident = _ok(shop, "subscribe", "shop.ledger", "--as", "books", "--purpose", "x")["id"]
    no_reason = shop.run("approve", str(ident), "--by", "me", "--reason", " ")
    assert no_reason.exit_code == 1 and "--reason is required" in no_reason.output
    assert shop.run("revoke", str(ident), "--by", "me", "--reason", "r").exit_code == 1
    _ok(shop, "deny", str(ident), "--by", "me", "--reason", "no")
    late = shop.run("approve", str(ident), "--by", "other", "--reason", "yes")
    assert late.exit_code == 1
    assert "is denied (by me: no), not requested" in late.output
    assert "may request it again" in late.output


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Run `workers` at once (released together); each one's result or exception."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = workers[index]()
        except Exception as exc:  # the outcome is what the test checks
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _decisions(catalog: Catalog, ident: int) -> list[str]:
    with catalog.session() as session:
        return [e.action for e in audit_entries(session, subject=f"subscription:{ident}")]


def test_concurrent_decisions_decide_once(catalog_url: str) -> None:  # noqa: F811
    # Each worker its own engine and connections, as two processes would.
    catalogs = [Catalog(catalog_url) for _ in range(6)]
    try:
        ident = request_subscription(
            catalogs[0], "books", "shop.ledger", actor="books", purpose="x"
        ).subscription.id
        # Three approvers and three deniers at once: exactly one decision, the rest either a
        # no-op (the same decision) or refused (the other one).
        results = _race(
            [
                (lambda c=c: approve(c, ident, actor="a", reason="ok"))
                if i % 2 == 0
                else (lambda c=c: deny(c, ident, actor="d", reason="no"))
                for i, c in enumerate(catalogs)
            ]
        )
        changed = [r for r in results if not isinstance(r, Exception) and r.changed]
        assert len(changed) == 1
        final = subscription(catalogs[0], ident).state
        for r in results:
            if isinstance(r, Exception):
                assert isinstance(r, SubscriptionError) and f"is {final}" in str(r)
            else:
                assert r.subscription.state == final
        assert _decisions(catalogs[0], ident) == ["requested", final]

        if final == "approved":  # both branches end with one revocation out of many
            results = _race([lambda c=c: revoke(c, ident, actor="r", reason="r") for c in catalogs])
            assert sum(r.changed for r in results) == 1
        # A re-request raced by six consumers' sessions is one new round.
        results = _race(
            [
                lambda c=c: request_subscription(c, "books", "shop.ledger", actor="b")
                for c in catalogs
            ]
        )
        assert sum(r.changed for r in results) == 1
        assert subscription(catalogs[0], ident).round == 2
        with catalogs[0].session() as session:
            rows = session.scalars(select(AuditEntry.action)).all()
        assert rows.count("requested") == 2
    finally:
        for c in catalogs:
            c.engine.dispose()
