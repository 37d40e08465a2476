"""What the notifier handles: alert drafts, the retry schedule and the messages' text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mesh_platform.catalog import Alert

AlertKind = Literal["run_failure", "quality", "freshness", "budget", "rollback", "subscription"]
Audience = Literal["platform", "domain"]
OUTBOX = "outbox"
# How long a claim (`sending`) holds: longer than any channel's timeout (10 s), so only a
# process that died mid-send leaves a claim to expire; its message is then due again.
CLAIM_SECONDS = 300
FINAL = ("sent", "skipped", "gave_up")


def retry_delay(failed_attempts: int, backoff_seconds: float, max_seconds: float) -> timedelta:
    """The wait after a message's `failed_attempts`-th failed attempt.

    None after the first (a blip: the next evaluation tries again, as before retries had a
    schedule), then `backoff_seconds`, doubling each time, at most `max_seconds`.
    """
    if failed_attempts <= 1:
        return timedelta(0)
    return timedelta(seconds=min(max_seconds, backoff_seconds * 2 ** (failed_attempts - 2)))


@dataclass(frozen=True)
class RetryPass:
    """What one retry pass did."""

    due: int
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    gave_up: int = 0

    def summary(self) -> str:
        """One line for a sensor tick."""
        return (
            f"{self.due} due notification(s): {self.sent} sent, {self.failed} failed again "
            f"(rescheduled), {self.gave_up} given up, {self.skipped} skipped"
        )


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


def channel_key(name: str) -> str:
    """A webhook channel's name as configured: `sales-alerts` -> `sales_alerts`."""
    return name.lower().replace("-", "_").replace(".", "_")


def message_text(alert: Alert) -> str:
    """The text of an alert's messages: body, run link, severity and time to recover."""
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
