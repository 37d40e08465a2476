"""The audit log: governance actions appended in the caller's transaction, never changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesh_platform.catalog.models import AuditEntry


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in `session`'s transaction: it commits (or not) with the action."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        subject=subject,
        reason=reason,
        details=json.dumps(details or {}, sort_keys=True, default=str),
    )
    session.add(entry)
    session.flush()
    return entry


def audit_entries(
    session: Session,
    *,
    subject: str | None = None,
    subject_prefix: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> Sequence[AuditEntry]:
    """Entries oldest first, optionally of one subject, subjects starting with a prefix, or
    since a time."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if subject_prefix is not None:
        query = query.where(AuditEntry.subject.startswith(subject_prefix, autoescape=True))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()
