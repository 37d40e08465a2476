"""Notification faults: retries with backoff against a failing webhook, giving up, concurrent
retry passes, and catalog outages reported as one bounded, actionable message."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mesh_platform.catalog import Catalog, CatalogUnavailable, OutboxMessage
from mesh_platform.catalog.models import utcnow
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.ops.sensors import build_retry_sensor
from mesh_platform.ops.status import mesh_status, render, undelivered
from tests import test_routing_support as rs
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)

# Generous: the bound is the catalog's 10 s connect / lock timeout, the rest is slack for a
# loaded machine.
OUTAGE_REPORTED_WITHIN = 30.0


def _draft(key: str = "fault:1", product: str | None = "shop.ratio") -> AlertDraft:
    return AlertDraft(
        dedupe_key=key,
        kind="run_failure",
        audience="domain",
        domain="shop",
        title=f"{product} failed",
        body=f"What failed: step 'checked' (alert {key}).",
        severity="medium",
        recipients=("webhook:team",),
        product=product,
        run_id="abc",
    )


def _webhook(notifier: Notifier) -> OutboxMessage:
    (message,) = [m for m in notifier.outbox() if m.channel == "webhook:team"]
    return message


def _seconds(later: datetime | None, earlier: datetime | None) -> float:
    """The gap between two stored times (SQLite returns them naive, both in UTC)."""
    assert later is not None and earlier is not None
    return (later.replace(tzinfo=None) - earlier.replace(tzinfo=None)).total_seconds()


def test_a_webhook_failing_twice_is_delivered_once_after_retries(
    catalog_url: str,  # noqa: F811
) -> None:
    hooks = rs.Hooks(fail_first=2)
    notifier = Notifier(catalog_url=catalog_url, webhooks={"team": f"{hooks.url}/team"})
    with hooks.running():
        notifier.publish(_draft())  # attempt 1: 500
        first = _webhook(notifier)
        assert (first.status, first.attempts) == ("failed", 1)
        assert "500" in (first.error or "")

        start = utcnow()
        assert notifier.retry_due(now=start).failed == 1  # attempt 2, at once: 500 again
        second = _webhook(notifier)
        assert (second.status, second.attempts) == ("failed", 2)
        backoff = notifier.retry_backoff_seconds
        assert _seconds(second.next_attempt_at, second.last_attempt_at) == backoff

        assert notifier.retry_due(now=start).due == 0  # not due before its backoff
        notifier.publish(_draft())  # the alert raised again: nothing is due either
        assert hooks.requests == 2

        later = start + timedelta(seconds=backoff + 1)
        assert notifier.retry_due(now=later).sent == 1  # attempt 3: accepted
        # Nothing already sent is sent again: neither retry passes nor a repeated alert.
        assert notifier.retry_due(now=later + timedelta(days=1)).due == 0
        notifier.publish(_draft())
    assert len(hooks.received) == 1 and hooks.requests == 3
    sent = _webhook(notifier)
    assert (sent.status, sent.attempts, sent.next_attempt_at) == ("sent", 3, None)
    assert sent.sent_at is not None
    notifier.catalog().engine.dispose()


def test_a_webhook_that_always_fails_is_given_up_and_shows_in_status(
    catalog_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    hooks = rs.Hooks(fail_first=math.inf)
    notifier = Notifier(catalog_url=catalog_url, webhooks={"team": f"{hooks.url}/team"})
    now = utcnow()
    with hooks.running():
        notifier.publish(_draft())
        for _ in range(20):  # far more passes than attempts, each after any backoff
            now += timedelta(seconds=notifier.retry_max_backoff_seconds + 1)
            notifier.retry_due(now=now)
    assert hooks.requests == notifier.max_attempts == 5 and hooks.received == []
    given_up = _webhook(notifier)
    assert (given_up.status, given_up.attempts) == ("gave_up", 5)
    assert given_up.next_attempt_at is None and "gave up after 5 attempts" in (given_up.error or "")
    # The row stays (nothing is lost), is counted as undelivered, and is never sent again.
    assert notifier.undelivered_by_product() == {"shop.ratio": 1}

    mesh = rs.build_mesh(tmp_path)
    rows = {r.product: r for r in mesh_status(mesh, dg.DagsterInstance.ephemeral(), notifier)}
    assert rows["shop.ratio"].undelivered_notifications == 1
    assert rows["shop.ratio"].as_dict()["undelivered_notifications"] == 1
    assert rows["shop.events"].undelivered_notifications == 0
    (line,) = rows["shop.ratio"].failed_notifications
    assert "webhook:team" in line and "given up after 5 attempt(s)" in line and "500" in line
    assert rows["shop.ratio"].as_dict()["failed_notifications"] == [line]
    text = render(list(rows.values()), undelivered(notifier))
    assert "unsent" in text.splitlines()[0]
    assert "notifications not delivered (1):" in text and line in text
    notifier.catalog().engine.dispose()


def _empty_mesh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `mesh` commands in this process at an empty MESH_HOME and Dagster instance."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))


def test_mesh_status_lists_the_notifications_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.cli import main

    _empty_mesh_home(tmp_path, monkeypatch)
    monkeypatch.delenv("MESH_CATALOG_URL", raising=False)
    notifier = Notifier(
        catalog_url=f"sqlite:///{tmp_path / 'catalog.db'}",
        webhooks={"team": "http://127.0.0.1:9/nothing-listens-here"},
        max_attempts=1,
    )
    notifier.publish(_draft(product="sales.pricing_summary"))
    notifier.publish(_draft("fault:2", product=None))  # a run that failed before its steps
    notifier.catalog().engine.dispose()
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    text = result.output.split("notifications not delivered (2):", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines()]
    assert len(lines) == 2
    assert all(
        "via webhook:team" in line and "given up after 1 attempt(s)" in line for line in lines
    )
    assert lines[0].startswith("- via") and lines[1].startswith("sales.pricing_summary via")
    assert "webhook unreachable" in lines[1]


def test_the_maximum_number_of_attempts_is_configurable(tmp_path: Path) -> None:
    notifier = Notifier(
        catalog_url=f"sqlite:///{tmp_path / 'c.db'}",
        webhooks={"team": "http://127.0.0.1:9/nothing-listens-here"},
        max_attempts=2,
    )
    notifier.publish(_draft())
    outcome = notifier.retry_due()
    assert (outcome.due, outcome.gave_up) == (1, 1)
    assert (_webhook(notifier).status, _webhook(notifier).attempts) == ("gave_up", 2)


def test_concurrent_retry_passes_send_each_message_once(catalog_url: str) -> None:  # noqa: F811
    # Ten messages fail once; four "sensor processes" then run their retry pass at the same
    # moment against a slow endpoint, so that every claim races with the others.
    hooks = rs.Hooks(fail_first=10, delay=0.2)
    notifiers = [
        Notifier(catalog_url=catalog_url, webhooks={"team": f"{hooks.url}/team"}) for _ in range(4)
    ]
    keys = [f"fault:{i}" for i in range(10)]
    with hooks.running():
        for key in keys:
            notifiers[0].publish(_draft(key))
        assert hooks.requests == 10 and hooks.received == []
        barrier = threading.Barrier(len(notifiers))
        errors: list[BaseException] = []

        def retry(notifier: Notifier) -> None:
            try:
                barrier.wait()
                notifier.retry_due()
            except BaseException as exc:  # surfaced below: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=retry, args=(n,)) for n in notifiers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    texts = sorted(body["text"] for _, body in hooks.received)
    assert len(texts) == 10 == len(set(texts)), texts  # each message exactly once
    webhooks = [m for m in notifiers[0].outbox() if m.channel == "webhook:team"]
    assert {(m.status, m.attempts) for m in webhooks} == {("sent", 2)}
    notifiers[0].catalog().engine.dispose()


def test_a_claim_left_by_a_dead_process_expires_and_is_retried(tmp_path: Path) -> None:
    hooks = rs.Hooks()
    notifier = Notifier(
        catalog_url=f"sqlite:///{tmp_path / 'c.db'}", webhooks={"team": f"{hooks.url}/team"}
    )
    with hooks.running():
        notifier.publish(_draft())
        assert len(hooks.received) == 1
        # A process claimed a second message, then died before recording the outcome.
        notifier.publish(_draft("fault:2"))
        with notifier.catalog().session() as session:
            session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.dedupe_key == "fault:2|webhook:team")
                .values(status="sending", attempts=1, next_attempt_at=utcnow())
            )
        assert notifier.retry_due(now=utcnow() + timedelta(seconds=1)).sent == 1
    assert len(hooks.received) == 3  # at-least-once at that single point, as documented
    retried = _webhook_of(notifier, "fault:2")
    assert (retried.status, retried.attempts) == ("sent", 2)


def _webhook_of(notifier: Notifier, key: str) -> OutboxMessage:
    (message,) = [m for m in notifier.outbox(key) if m.channel == "webhook:team"]
    return message


def test_the_retry_sensor_sends_due_messages(tmp_path: Path) -> None:
    hooks = rs.Hooks(fail_first=1)
    notifier = Notifier(
        catalog_url=f"sqlite:///{tmp_path / 'c.db'}", webhooks={"team": f"{hooks.url}/team"}
    )
    sensor = build_retry_sensor()
    with hooks.running():
        notifier.publish(_draft())
        data = sensor.evaluate_tick(dg.build_sensor_context(resources={"notifier": notifier}))
    assert data.skip_message is not None and "1 sent" in data.skip_message
    assert len(hooks.received) == 1 and _webhook(notifier).attempts == 2


# Catalog outages ---------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung or firewalled server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


def test_an_unreachable_postgres_catalog_is_named_without_its_password(
    silent_server: int,
) -> None:
    url = f"postgresql+psycopg://mesh:s3cret@127.0.0.1:{silent_server}/catalog"
    start = time.monotonic()
    with pytest.raises(CatalogUnavailable) as caught:
        Notifier(catalog_url=url).publish(_draft())
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert elapsed < OUTAGE_REPORTED_WITHIN, elapsed
    assert f"mesh:***@127.0.0.1:{silent_server}/catalog" in message
    assert "s3cret" not in message
    assert "check:" in message and "MESH_CATALOG_URL" in message

    refused = f"postgresql+psycopg://mesh:s3cret@127.0.0.1:{_closed_port()}/catalog"
    with pytest.raises(CatalogUnavailable) as caught:
        Catalog.open(refused)
    assert "running and reachable" in str(caught.value) and "s3cret" not in str(caught.value)


def test_a_locked_sqlite_catalog_is_reported_within_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    notifier = Notifier(catalog_url=f"sqlite:///{path}")
    notifier.catalog()  # created and migrated
    holder = sa.create_engine(f"sqlite:///{path}")
    with holder.connect() as connection:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")  # another process holds the write lock
        start = time.monotonic()
        with pytest.raises(CatalogUnavailable) as caught:
            notifier.publish(_draft())
        elapsed = time.monotonic() - start
        connection.exec_driver_sql("ROLLBACK")
    holder.dispose()
    assert elapsed < OUTAGE_REPORTED_WITHIN, elapsed
    assert str(path) in str(caught.value) and "lock" in caught.value.hint
    notifier.publish(_draft())  # the lock is gone: the same notifier works again
    assert [m.status for m in notifier.outbox()] == ["sent", "skipped"]


def test_mesh_status_prints_one_message_when_the_catalog_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.cli import main

    _empty_mesh_home(tmp_path, monkeypatch)
    port = _closed_port()
    monkeypatch.setenv("MESH_CATALOG_URL", f"postgresql+psycopg://ops:pw@127.0.0.1:{port}/mesh")
    result = CliRunner().invoke(main, ["status", "--json"])
    assert result.exit_code != 0
    assert f"the catalog database postgresql+psycopg://ops:***@127.0.0.1:{port}/mesh" in (
        result.output
    )
    assert "Traceback" not in result.output and ":pw@" not in result.output
