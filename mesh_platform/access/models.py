"""The subscriptions table: who consumes which product, for what, and where the request is.

A row per (consumer domain, product): a re-request after a denial or a revocation moves the
same row back to `requested` and bumps `round`, so every decision of every round has its own
audit entries and notifications (their keys carry the round) while the row stays the one
answer to "may this domain read that product now".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mesh_platform.access.states import APPROVED, DENIED, REQUESTED, REVOKED, ROUTES, STATES
from mesh_platform.catalog.models import Base, utcnow


class Subscription(Base):
    """A consumer domain's (request for) access to another domain's product."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("consumer", "product", name="uq_subscriptions_consumer_product"),
        Index("ix_subscriptions_state_route", "state", "route"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    product: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    producer: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    columns: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of column names
    state: Mapped[str] = mapped_column(String(20), default=REQUESTED)
    route: Mapped[str | None] = mapped_column(String(20), nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def subject(self) -> str:
        """Its name in the audit log."""
        return f"subscription:{self.id}"


__all__ = ["APPROVED", "DENIED", "REQUESTED", "REVOKED", "ROUTES", "STATES", "Subscription"]
