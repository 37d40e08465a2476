"""Catalog tables. Every change to them comes with an Alembic migration in `migrations/`.

Room is left for what later issues add (contracts, subscriptions, grants, audit log): they
are new tables and migrations, nothing here needs to change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the catalog uses."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the catalog's tables."""


class QualityResult(Base):
    """One evaluation of one check of a product (a projection of Dagster's event log)."""

    __tablename__ = "quality_results"
    __table_args__ = (UniqueConstraint("event_id", name="uq_quality_results_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # Dagster storage id
    product: Mapped[str] = mapped_column(String(200), index=True)
    check_name: Mapped[str] = mapped_column(String(200))
    passed: Mapped[bool]
    severity: Mapped[str] = mapped_column(String(10))
    failing_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failing_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    """Something a person must know: a failed run or step, a failed rule, a stale product."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_alerts_dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), nullable=False)
    kind: Mapped[str] = mapped_column(String(30))  # run_failure | quality | freshness
    audience: Mapped[str] = mapped_column(String(20))  # platform | domain
    domain: Mapped[str] = mapped_column(String(100), index=True)
    product: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    failure_class: Mapped[str | None] = mapped_column(String(30), nullable=True)
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    time_to_recover_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | resolved
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# An outbox message's life: `pending` (recorded) -> `sending` (claimed by one process) ->
# `sent` | `skipped` (channel not configured here) | `failed` (retried at `next_attempt_at`)
# | `gave_up` (failed `max_attempts` times: kept, never sent again).
RETRYABLE = ("pending", "sending", "failed")  # `sending` only once its claim has expired
UNDELIVERED = (*RETRYABLE, "gave_up")


class OutboxMessage(Base):
    """A notification, recorded before it is sent: the unique key makes sending idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), nullable=False)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(200))  # outbox | webhook:<name> | email:<addr>
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # see RETRYABLE
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the message may next be attempted (for `sending`: when the claim expires); None
    # once it is final (sent, skipped, gave_up).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


COST_KINDS = ("run", "development")  # a production materialization | `mesh preview`, `mesh test`


class RunCost(Base):
    """What one materialization (or development run) of a product consumed, and its price.

    Unique on (run_id, product, kind): a retried step of the same run is not counted twice.
    Units and dollars are stored as computed with the rates of the time of the run.
    """

    __tablename__ = "run_costs"
    __table_args__ = (
        UniqueConstraint("run_id", "product", "kind", name="uq_run_costs_run_product_kind"),
        Index("ix_run_costs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), nullable=False)
    product: Mapped[str] = mapped_column(String(200), index=True)  # domain.product
    domain: Mapped[str] = mapped_column(String(100), index=True)
    team: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the product's owner
    kind: Mapped[str] = mapped_column(String(20))  # see COST_KINDS
    partition: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    wall_seconds: Mapped[float] = mapped_column(Float)
    cpu_seconds: Mapped[float] = mapped_column(Float)
    process_peak_memory_mb: Mapped[float] = mapped_column(Float)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    bytes_read: Mapped[int] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    bytes_written: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[float] = mapped_column(Float)
    dollars: Mapped[float] = mapped_column(Float)


class BudgetWaiverRecord(Base):
    """A domain's time-limited exception to one budget limit (for one product, or all).

    Active through `until` (a UTC day, inclusive): while active, a breach of that limit is not
    notified; after it, a breach in the same period is notified once.
    """

    __tablename__ = "budget_exceptions"
    __table_args__ = (Index("ix_budget_exceptions_domain_until", "domain", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    domain: Mapped[str] = mapped_column(String(100), nullable=False)
    limit_name: Mapped[str] = mapped_column(String(30))  # per_run | per_product_month | ...
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: all
    until: Mapped[date] = mapped_column(Date, nullable=False)
    granted_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One governance action, appended and never changed: who did what to which subject, why.

    `subject` names what was acted on (`subscription:12`, `product:sales.orders`); `action` is
    the verb (`requested`, `approved`, `rolled_back`, ...); `details` is JSON text.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))  # a person, a team, or `sensor:<name>`
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")


class CatalogMark(Base):
    """What the catalog was last brought in step with, by name: the migration scripts applied
    (`migrations`), the mesh's sources and runs the marketplace was synced with (`sync`).

    `value` is a digest: a process compares it with the digest of what it has now and skips
    the work (an Alembic upgrade, a sync) when they are equal.
    """

    __tablename__ = "catalog_marks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
