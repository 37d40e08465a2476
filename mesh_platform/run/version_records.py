"""A product's versions and holds in the catalog (Dagster-free).

`product_versions` records, for each Delta version the platform commits, the code version and
run that produced it (or who restored it, from which version). `product_holds` records the
holds a rollback places: while a product is held, no materialization writes it, whoever
launches it (automation, a schedule, the UI, `mesh materialize`), until its owner releases it.

Enforcement costs nothing for a product that is not held: a hold is only placed together with
a rollback's Delta RESTORE commit, and nothing commits to a held table, so a table whose last
commit is not a platform restore cannot be held and the catalog is not asked. When it is a
restore and the catalog cannot be reached, the product is treated as held: the rollback is
never overwritten because a database was down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mesh_platform.catalog import Base, Catalog, CatalogUnavailable
from mesh_platform.catalog.models import utcnow
from mesh_platform.errors import MeshError
from mesh_platform.lake.delta_versions import is_platform_restore, last_commit
from mesh_platform.lake.lakehouse import Key, Lakehouse

WRITE = "write"
RESTORE = "restore"


class ProductVersion(Base):
    """One Delta version of a product the platform committed, and what produced it."""

    __tablename__ = "product_versions"
    __table_args__ = (
        UniqueConstraint("product", "delta_version", name="uq_product_versions_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(200), index=True)  # domain.product
    delta_version: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(20))  # write | restore
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    code_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    partition: Mapped[str | None] = mapped_column(String(200), nullable=True)
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ProductHold(Base):
    """A hold on a product after a rollback; active until `released_at` is set."""

    __tablename__ = "product_holds"
    __table_args__ = (
        # At most one active hold per product.
        Index(
            "uq_product_holds_active",
            "product",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(200), index=True)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    held_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    rolled_back_to: Mapped[int] = mapped_column(Integer)  # the version brought back
    delta_version: Mapped[int] = mapped_column(Integer)  # the restore's new version
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class NotHeld(MeshError):
    """A release of a product that is not held."""


@dataclass(frozen=True)
class HoldNotice:
    """Why a materialization of a held product writes nothing, said once in the run."""

    product: str
    message: str
    hold_id: int | None = None  # None: the catalog could not be asked


def record_version(
    session: Session,
    product: str,
    delta_version: int,
    *,
    operation: str = WRITE,
    code_version: str | None = None,
    run_id: str | None = None,
    rows: int | None = None,
    partition: str | None = None,
    restored_from: int | None = None,
    actor: str | None = None,
) -> ProductVersion:
    """Record what produced `delta_version`; replaces an earlier record of the same number
    (a table deleted and written again starts its versions at 0 again)."""
    stale = session.scalars(
        select(ProductVersion).where(
            ProductVersion.product == product, ProductVersion.delta_version == delta_version
        )
    ).all()
    for row in stale:
        session.delete(row)
    session.flush()
    entry = ProductVersion(
        product=product,
        delta_version=delta_version,
        operation=operation,
        code_version=code_version,
        run_id=run_id,
        rows=rows,
        partition=partition,
        restored_from=restored_from,
        actor=actor,
    )
    session.add(entry)
    session.flush()
    return entry


def version_records(session: Session, product: str) -> dict[int, ProductVersion]:
    """The recorded versions of a product, by Delta version."""
    rows = session.scalars(select(ProductVersion).where(ProductVersion.product == product)).all()
    return {r.delta_version: r for r in rows}


def active_hold(session: Session, product: str) -> ProductHold | None:
    """The product's hold, None when it is not held."""
    return session.scalars(
        select(ProductHold).where(ProductHold.product == product, ProductHold.released_at.is_(None))
    ).first()


def holds(session: Session, product: str) -> Sequence[ProductHold]:
    """Every hold the product had, oldest first."""
    query = select(ProductHold).where(ProductHold.product == product).order_by(ProductHold.id)
    return session.scalars(query).all()


def place_hold(
    session: Session, product: str, *, by: str, reason: str, rolled_back_to: int, version: int
) -> ProductHold:
    """Hold the product after a rollback; a product already held keeps its hold, which now
    names the latest rollback."""
    hold = active_hold(session, product)
    if hold is None:
        hold = ProductHold(product=product, held_by=by, reason=reason)
        session.add(hold)
    else:
        hold.held_by, hold.reason, hold.held_at = by, reason, utcnow()
    hold.rolled_back_to, hold.delta_version = rolled_back_to, version
    session.flush()
    return hold


def release_hold(session: Session, product: str, *, by: str, reason: str) -> ProductHold:
    """End the product's hold: its next materialization writes again."""
    hold = active_hold(session, product)
    if hold is None:
        raise NotHeld(
            f"{product} is not held: nothing to release (`mesh history {product}` shows its "
            "versions and holds)"
        )
    hold.released_at, hold.released_by, hold.release_reason = utcnow(), by, reason
    session.flush()
    return hold


def describe_hold(hold: ProductHold) -> str:
    """One sentence: who held the product, when, why, and how to release it."""
    return (
        f"{hold.product} is held since {hold.held_at:%Y-%m-%d %H:%M} UTC: {hold.held_by} "
        f"rolled it back to version {hold.rolled_back_to} (now version {hold.delta_version}) "
        f"because {hold.reason!r}. No run writes it until the owner releases it: "
        f"`mesh release {hold.product} --reason ...`"
    )


def hold_on(lakehouse: Lakehouse, key: Key, catalog_url: str) -> HoldNotice | None:
    """Why the product must not be written now, None when it may be.

    The catalog is asked only when the table's last commit is a platform rollback.
    """
    if not is_platform_restore(last_commit(lakehouse, key)):
        return None
    product = ".".join(key)
    try:
        with Catalog.open(catalog_url).session() as session:
            hold = active_hold(session, product)
            if hold is None:
                return None
            return HoldNotice(product, f"{describe_hold(hold)}. This run wrote nothing.", hold.id)
    except CatalogUnavailable as exc:
        return HoldNotice(
            product,
            f"{product} was rolled back and the catalog, which says whether it is still held, "
            f"is unavailable ({exc.reason}). Nothing was written, so the rollback cannot be "
            "overwritten; the next run after the catalog is back writes if it was released",
        )
