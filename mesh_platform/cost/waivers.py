"""Budget waivers: who granted a domain more room on which limit, why, and until when.

Kept in the catalog's `budget_exceptions` table. A waiver is active through its `until`
day (UTC, inclusive); it suppresses the notification of a breach of its limit (for its
product, or every product of the domain when it names none) and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from mesh_platform.catalog import Catalog
from mesh_platform.cost.budgets import LIMIT_NAMES, BudgetError


@dataclass(frozen=True)
class BudgetWaiver:
    """One recorded waiver."""

    id: int
    domain: str
    limit: str
    product: str | None
    until: date
    granted_by: str
    reason: str
    granted_at: datetime

    def active(self, now: datetime) -> bool:
        """Whether it still applies at `now` (through its `until` day, UTC)."""
        return now.astimezone(UTC).date() <= self.until

    def covers(self, domain: str, limit: str, product: str | None) -> bool:
        """Whether it is a waiver of `limit` of `domain` (for `product`, if it names one)."""
        return (
            self.domain == domain
            and self.limit == limit
            and (self.product is None or self.product == product)
        )

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A plain dict (for `--json`), with whether it is active at `now`."""
        data = asdict(self)
        data["active"] = self.active(now or datetime.now(UTC))
        return data


def grant_waiver(
    catalog: Catalog,
    domain: str,
    limit: str,
    until: date,
    granted_by: str,
    reason: str,
    product: str | None = None,
    now: datetime | None = None,
) -> BudgetWaiver:
    """Record a waiver; `BudgetError` when it is malformed or already expired."""
    from mesh_platform.catalog.models import BudgetWaiverRecord

    now = now or datetime.now(UTC)
    if limit not in LIMIT_NAMES:
        raise BudgetError(f"no budget limit {limit!r}; one of: {', '.join(LIMIT_NAMES)}")
    if product is not None and limit == "per_domain_month":
        raise BudgetError("a waiver of per_domain_month is for the whole domain: no product")
    if product is not None and not product.startswith(f"{domain}."):
        raise BudgetError(f"product {product!r} is not of domain {domain!r} (domain.product)")
    if until < now.astimezone(UTC).date():
        raise BudgetError(f"--until {until.isoformat()} is already past")
    if not granted_by.strip() or not reason.strip():
        raise BudgetError("a waiver needs who granted it (--by) and why (--reason)")
    row = BudgetWaiverRecord(
        domain=domain,
        limit_name=limit,
        product=product,
        until=until,
        granted_by=granted_by.strip(),
        reason=reason.strip(),
        granted_at=now,
    )
    with catalog.session() as session:
        session.add(row)
        session.flush()
        return _grant(row)


def list_waivers(catalog: Catalog) -> list[BudgetWaiver]:
    """Every recorded waiver, latest expiry first."""
    from sqlalchemy import select

    from mesh_platform.catalog.models import BudgetWaiverRecord

    query = select(BudgetWaiverRecord).order_by(
        BudgetWaiverRecord.until.desc(), BudgetWaiverRecord.id.desc()
    )
    with catalog.session() as session:
        return [_grant(row) for row in session.scalars(query)]


def active_waivers(catalog: Catalog, now: datetime) -> list[BudgetWaiver]:
    """The waivers that apply at `now`."""
    from sqlalchemy import select

    from mesh_platform.catalog.models import BudgetWaiverRecord

    query = select(BudgetWaiverRecord).where(BudgetWaiverRecord.until >= now.astimezone(UTC).date())
    with catalog.session() as session:
        return [_grant(row) for row in session.scalars(query)]


def render_waivers(grants: list[BudgetWaiver], now: datetime | None = None) -> str:
    """The waivers as a table a person reads."""
    if not grants:
        return "no budget waivers"
    now = now or datetime.now(UTC)
    lines = [f"{'domain':<14} {'limit':<18} {'product':<32} {'until':<10} {'state':<8} by: why"]
    for g in grants:
        state = "active" if g.active(now) else "expired"
        lines.append(
            f"{g.domain:<14} {g.limit:<18} {g.product or '(all)':<32} {g.until.isoformat():<10} "
            f"{state:<8} {g.granted_by}: {g.reason}"
        )
    return "\n".join(lines)


def _grant(row: Any) -> BudgetWaiver:
    return BudgetWaiver(
        id=row.id,
        domain=row.domain,
        limit=row.limit_name,
        product=row.product,
        until=row.until,
        granted_by=row.granted_by,
        reason=row.reason,
        granted_at=row.granted_at,
    )
