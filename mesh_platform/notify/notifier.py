"""The notifier resource: record an alert and its messages durably, then deliver each once.

Idempotence rests on the catalog's unique constraints: an alert's `dedupe_key` and each
message's `<alert key>|<channel>` key. A repeated sensor tick or a restart finds the rows
already there and sends nothing already sent; a message that failed is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import dagster as dg
from pydantic import Field

from mesh_platform.notify.channels import (
    DeliveryError,
    NotConfigured,
    SmtpSettings,
    send_email,
    send_webhook,
)

if TYPE_CHECKING:
    from mesh_platform.catalog import Alert, Catalog, OutboxMessage

LOG = logging.getLogger("mesh.notify")
AlertKind = Literal["run_failure", "quality", "freshness"]
Audience = Literal["platform", "domain"]
OUTBOX = "outbox"


@dataclass(frozen=True)
class AlertDraft:
    """An alert about to be raised: who it is for, what happened and how to fix it."""

    dedupe_key: str
    kind: AlertKind
    audience: Audience
    domain: str
    title: str
    body: str
    severity: str
    recipients: tuple[str, ...]  # channel names: webhook:<n>, slack:<n>, email:<addr>
    product: str | None = None
    failure_class: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    time_to_recover_hours: float | None = None


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

    def catalog(self) -> Catalog:
        """The catalog database (SQLAlchemy is imported here, not when a location loads)."""
        from mesh_platform.catalog import Catalog

        return Catalog.open(self.catalog_url)

    def run_url(self, run_id: str) -> str:
        """The UI page of a run."""
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def publish(self, draft: AlertDraft) -> Alert:
        """Record the alert (once) and deliver each of its messages (once)."""
        alert = self._record(draft)
        for channel in (OUTBOX, *dict.fromkeys(draft.recipients)):
            message = self._message(alert, channel)
            if message.status != "sent":
                self._deliver(message)
        return alert

    def _record(self, draft: AlertDraft) -> Alert:
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
            return alert
        except IntegrityError:  # raised before: a repeated tick or a restart
            with catalog.session() as session:
                return session.scalars(
                    select(Alert).where(Alert.dedupe_key == draft.dedupe_key)
                ).one()

    def _message(self, alert: Alert, channel: str) -> OutboxMessage:
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from mesh_platform.catalog import OutboxMessage

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
                    body=_text(alert),
                    status="pending",
                    attempts=0,
                )
                session.add(message)
            return message
        except IntegrityError:
            with catalog.session() as session:
                return session.scalars(
                    select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
                ).one()

    def _deliver(self, message: OutboxMessage) -> None:
        from mesh_platform.catalog import OutboxMessage
        from mesh_platform.catalog.models import utcnow

        status, error = "sent", None
        try:
            self._send(message)
        except NotConfigured as exc:
            status, error = "skipped", str(exc)
        except DeliveryError as exc:
            status, error = "failed", str(exc)
        LOG.log(
            logging.WARNING if status == "failed" else logging.INFO,
            "notification %s via %s: %s%s",
            message.dedupe_key,
            message.channel,
            status,
            f" ({error})" if error else "",
        )
        with self.catalog().session() as session:
            row = session.get(OutboxMessage, message.id)
            assert row is not None
            row.status, row.error = status, error
            row.attempts += 1
            row.sent_at = utcnow() if status == "sent" else None
        message.status = status

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


def channel_key(name: str) -> str:
    """A webhook channel's name as configured: `sales-alerts` -> `sales_alerts`."""
    return name.lower().replace("-", "_").replace(".", "_")


def _text(alert: Alert) -> str:
    lines = [alert.body]
    if alert.run_url:
        lines.append(f"Run: {alert.run_url}")
    lines.append(
        f"Severity: {alert.severity}"
        + (
            f"; expected time to recover: {alert.time_to_recover_hours:g} h"
            if alert.time_to_recover_hours is not None
            else ""
        )
    )
    return "\n".join(lines)
