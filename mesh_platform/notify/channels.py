"""Delivery channels: Slack-compatible webhooks (slack_sdk) and email (smtplib).

A channel is named in a domain file as `webhook:<name>` (or `slack:<name>`), whose URL comes
from the environment (`MESH_WEBHOOK_<NAME>`, handed to the notifier resource: URLs are
secrets), or
`email:<address>`. Each function raises `DeliveryError` when the message was not accepted.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from mesh_platform.errors import ConfigurationError, PlatformError


class DeliveryError(PlatformError):
    """The channel did not accept the message."""


class NotConfigured(ConfigurationError):
    """The channel has no destination configured here (no URL, no SMTP host)."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where email goes out."""

    host: str
    port: int = 25
    sender: str = "mesh@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


def send_webhook(url: str, text: str, timeout: int = 10) -> None:
    """POST `{"text": ...}` to a Slack-compatible incoming webhook."""
    from slack_sdk.webhook import WebhookClient

    try:
        response = WebhookClient(url, timeout=timeout).send(text=text)
    except OSError as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"webhook answered {response.status_code}: {response.body[:200]}")


def send_email(settings: SmtpSettings, to: str, subject: str, body: str) -> None:
    """Send a plain-text email through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user and settings.password:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"email to {to} failed: {exc}") from exc
