"""The notifier resource: record an alert and its messages durably, then deliver each once.

Idempotence rests on the catalog's unique constraints: an alert's `dedupe_key` and each
message's `<alert key>|<channel>` key. A repeated sensor tick or a restart finds the rows
already there and sends nothing already sent.

A delivery that fails is retried with exponential backoff (`retry_delay`): at the next
evaluation after the first failure, then `retry_backoff_seconds`, doubling, up to
`max_attempts` in all; then the message is `gave_up`. Each attempt first claims the row with
one conditional UPDATE (status and schedule re-checked in the transaction that marks it
`sending`), so two sensor processes never both send a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from mesh_platform.notify.channels import (
    DeliveryError,
    NotConfigured,
    SmtpSettings,
    send_email,
    send_webhook,
)
from mesh_platform.notify.messages import (
    CLAIM_SECONDS,
    FINAL,
    OUTBOX,
    AlertDraft,
    RetryPass,
    channel_key,
    message_text,
    retry_delay,
)

if TYPE_CHECKING:
    from mesh_platform.catalog import Alert, Catalog, OutboxMessage

LOG = logging.getLogger("mesh.notify")


class Notifier(dg.ConfigurableResource):
    """Alerts and notifications, kept in the catalog's outbox and sent on their channels."""

    catalog_url: str = Field(description="SQLAlchemy URL of the catalog database.")
    ui_base_url: str = Field(
        default="http://127.0.0.1:3000", description="Base URL of the Dagster UI (run links)."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; email off when unset.")
    smtp_port: int = 25
    smtp_sender: str = "mesh@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, description="Only via dg.EnvVar.")
    smtp_starttls: bool = False
    webhooks: dict[str, str] = Field(
        default_factory=dict,
        description="Webhook channel name -> URL (from MESH_WEBHOOK_<NAME>; secrets, never "
        "logged).",
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Delivery attempts of a message before it is given up."
    )
    retry_backoff_seconds: float = Field(
        default=300,
        ge=0,
        description="Wait before the third attempt; it doubles for each later one (the second "
        "attempt is at the next evaluation).",
    )
    retry_max_backoff_seconds: float = Field(
        default=3600, ge=0, description="The longest wait between two attempts."
    )

    def catalog(self) -> Catalog:
        """The catalog database (SQLAlchemy is imported here, not when a location loads)."""
        from mesh_platform.catalog import Catalog

        return Catalog.open(self.catalog_url)

    def run_url(self, run_id: str) -> str:
        """The UI page of a run."""
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def publish(self, draft: AlertDraft) -> Alert:
        """Record the alert (once) and deliver each of its messages that is due (once).

        When this returns, the alert and all its messages are durably recorded (a failed
        delivery is left to the retry pass); a catalog outage raises `CatalogUnavailable`.
        """
        return self._publish(draft)[0]

    def publish_new(self, draft: AlertDraft) -> bool:
        """`publish`, and whether the alert was recorded now (False: it was raised before, so
        a caller raising it again after a restart or on every tick logs nothing new)."""
        return self._publish(draft)[1]

    def _publish(self, draft: AlertDraft) -> tuple[Alert, bool]:
        alert, created = self._record(draft)
        if created:  # logged once, however often the alert is raised again
            LOG.info("alert %s raised: %s", draft.dedupe_key, draft.title)
        for channel in (OUTBOX, *dict.fromkeys(draft.recipients)):
            message = self._message(alert, channel)
            if message.status not in FINAL:
                self._attempt(message.id)
        return alert, created

    def retry_due(
        self, now: datetime | None = None, limit: int = 200, budget_seconds: float = 40
    ) -> RetryPass:
        """Attempt every message whose retry is due (oldest first), within `budget_seconds`.

        Messages that have used `max_attempts` are marked `gave_up` instead. What the budget
        leaves undone stays due for the next pass (a sensor tick must end within its timeout).
        """
        from sqlalchemy import select, update

        from mesh_platform.catalog import OutboxMessage
        from mesh_platform.catalog.models import RETRYABLE, utcnow

        now = now or utcnow()
        due = (
            OutboxMessage.status.in_(RETRYABLE),
            OutboxMessage.next_attempt_at <= now,
        )
        catalog = self.catalog()
        with catalog.session() as session:
            # Out of attempts without a final status: max_attempts was lowered, or a process
            # died during the last attempt. Nothing will send them now.
            exhausted = _rowcount(
                session.execute(
                    update(OutboxMessage)
                    .where(*due, OutboxMessage.attempts >= self.max_attempts)
                    .values(status="gave_up", next_attempt_at=None)
                    .execution_options(synchronize_session=False)
                )
            )
        with catalog.session() as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(*due)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(limit)
                )
            )
        outcomes: list[str | None] = []
        deadline = time.monotonic() + budget_seconds
        for message_id in ids:
            if time.monotonic() > deadline:
                break
            outcomes.append(self._attempt(message_id, now))
        return RetryPass(
            due=len(ids),
            sent=outcomes.count("sent"),
            skipped=outcomes.count("skipped"),
            failed=outcomes.count("failed"),
            gave_up=outcomes.count("gave_up") + exhausted,
        )

    def undelivered_by_product(self) -> dict[str | None, int]:
        """Messages not delivered (pending, being retried or given up), per alert product."""
        from sqlalchemy import func, select

        from mesh_platform.catalog import Alert, OutboxMessage
        from mesh_platform.catalog.models import UNDELIVERED

        with self.catalog().session() as session:
            rows = session.execute(
                select(Alert.product, func.count(OutboxMessage.id))
                .join(Alert, Alert.id == OutboxMessage.alert_id)
                .where(OutboxMessage.status.in_(UNDELIVERED))
                .group_by(Alert.product)
            ).all()
        return {product: int(count) for product, count in rows}

    def _record(self, draft: AlertDraft) -> tuple[Alert, bool]:
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from mesh_platform.catalog import Alert

        catalog = self.catalog()
        try:
            with catalog.session() as session:
                alert = Alert(
                    dedupe_key=draft.dedupe_key,
                    kind=draft.kind,
                    audience=draft.audience,
                    domain=draft.domain,
                    product=draft.product,
                    failure_class=draft.failure_class,
                    severity=draft.severity,
                    title=draft.title[:500],
                    body=draft.body,
                    run_id=draft.run_id,
                    run_url=draft.run_url,
                    time_to_recover_hours=draft.time_to_recover_hours,
                    status="open",
                )
                session.add(alert)
            return alert, True
        except IntegrityError:  # raised before: a repeated tick or a restart
            with catalog.session() as session:
                existing = session.scalars(
                    select(Alert).where(Alert.dedupe_key == draft.dedupe_key)
                ).one()
            return existing, False

    def _message(self, alert: Alert, channel: str) -> OutboxMessage:
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from mesh_platform.catalog import OutboxMessage
        from mesh_platform.catalog.models import utcnow

        catalog = self.catalog()
        key = f"{alert.dedupe_key}|{channel}"
        try:
            with catalog.session() as session:
                message = OutboxMessage(
                    dedupe_key=key,
                    alert_id=alert.id,
                    channel=channel,
                    recipient=channel.partition(":")[2] or alert.audience,
                    subject=alert.title[:500],
                    body=message_text(alert),
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow(),
                )
                session.add(message)
            return message
        except IntegrityError:
            with catalog.session() as session:
                return session.scalars(
                    select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
                ).one()

    def _attempt(self, message_id: int, now: datetime | None = None) -> str | None:
        """Claim the message if it is due, send it, record the outcome. None: not claimed."""
        from mesh_platform.catalog.models import utcnow

        now = now or utcnow()
        message = self._claim(message_id, now)
        if message is None:
            return None  # sent, final, not yet due, or another process holds it
        status, error = "sent", None
        try:
            self._send(message)
        except NotConfigured as exc:
            status, error = "skipped", str(exc)
        except DeliveryError as exc:
            status, error = "failed", str(exc)
            if message.attempts >= self.max_attempts:
                status = "gave_up"
                error = f"{exc} (gave up after {message.attempts} attempts)"
        LOG.log(
            logging.WARNING if status in ("failed", "gave_up") else logging.INFO,
            "notification %s via %s: %s (attempt %d of %d)%s",
            message.dedupe_key,
            message.channel,
            status,
            message.attempts,
            self.max_attempts,
            f" ({error})" if error else "",
        )
        self._finish(message, status, error, now)
        return status

    def _claim(self, message_id: int, now: datetime) -> OutboxMessage | None:
        """Mark the message `sending` if, in this very transaction, it is still due.

        One conditional UPDATE: PostgreSQL re-checks the WHERE on the row after any concurrent
        writer commits, SQLite serialises writers, so exactly one process wins the row.
        """
        from sqlalchemy import select, update

        from mesh_platform.catalog import OutboxMessage
        from mesh_platform.catalog.models import RETRYABLE

        with self.catalog().session() as session:
            claimed = _rowcount(
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        OutboxMessage.status.in_(RETRYABLE),
                        OutboxMessage.next_attempt_at <= now,
                        OutboxMessage.attempts < self.max_attempts,
                    )
                    .values(
                        status="sending",
                        attempts=OutboxMessage.attempts + 1,
                        last_attempt_at=now,
                        next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if claimed != 1:
                return None
            return session.scalars(
                select(OutboxMessage).where(OutboxMessage.id == message_id)
            ).one()

    def _finish(
        self, message: OutboxMessage, status: str, error: str | None, now: datetime
    ) -> None:
        """Record an attempt's outcome, unless the claim expired and another process took it."""
        from sqlalchemy import update

        from mesh_platform.catalog import OutboxMessage
        from mesh_platform.catalog.models import utcnow

        next_attempt = None
        if status == "failed":
            delay = retry_delay(
                message.attempts, self.retry_backoff_seconds, self.retry_max_backoff_seconds
            )
            next_attempt = now + delay
        with self.catalog().session() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == "sending",
                    OutboxMessage.attempts == message.attempts,
                )
                .values(
                    status=status,
                    error=error,
                    sent_at=utcnow() if status == "sent" else None,
                    next_attempt_at=next_attempt,
                )
                .execution_options(synchronize_session=False)
            )

    def _send(self, message: OutboxMessage) -> None:
        kind, _, target = message.channel.partition(":")
        if kind == OUTBOX:
            return  # the durable row and the log line are the delivery
        if kind in ("webhook", "slack"):
            url = self.webhooks.get(channel_key(target))
            if not url:
                raise NotConfigured(f"no URL for webhook {target!r} (set its MESH_WEBHOOK_ var)")
            send_webhook(url, f"*{message.subject}*\n{message.body}")
            return
        if kind == "email":
            if not self.smtp_host:
                raise NotConfigured("no SMTP server configured (MESH_SMTP_HOST)")
            send_email(self._smtp(), target, message.subject, message.body)
            return
        raise NotConfigured(f"unknown channel {message.channel!r}")

    def _smtp(self) -> SmtpSettings:
        assert self.smtp_host is not None
        return SmtpSettings(
            self.smtp_host,
            self.smtp_port,
            self.smtp_sender,
            self.smtp_user,
            self.smtp_password,
            self.smtp_starttls,
        )

    def outbox(self, dedupe_prefix: str = "") -> Sequence[OutboxMessage]:
        """Recorded messages (for tests and the CLI), oldest first."""
        from sqlalchemy import select

        from mesh_platform.catalog import OutboxMessage

        with self.catalog().session() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if dedupe_prefix:
                query = query.where(OutboxMessage.dedupe_key.startswith(dedupe_prefix))
            return list(session.scalars(query))


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed (typed `Result` in SQLAlchemy's stubs, a `CursorResult` here)."""
    return int(result.rowcount or 0)
