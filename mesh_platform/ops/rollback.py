"""Rolling a product back, releasing it, and its history (what `mesh rollback`, `mesh release`
and `mesh history` do).

A rollback restores the product's Delta table to an earlier version (a new version, nothing
deleted), records the restore and a hold in the catalog and an entry in the audit log, all in
one transaction with the restore, then notifies the domains whose products read it. The hold
keeps every materialization from overwriting the restored version until the owner releases
it (`dagster/holds.py` enforces it in the asset).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mesh_platform.access import APPROVED, subscriptions
from mesh_platform.catalog import Catalog, record_audit
from mesh_platform.errors import MeshError
from mesh_platform.lake.delta_versions import (
    check_target,
    delta_history,
    restore,
    rows_at,
    version_at,
)
from mesh_platform.lake.lakehouse import Key, Lakehouse
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.ops.routing import recipients
from mesh_platform.run.version_records import (
    RESTORE,
    ProductHold,
    active_hold,
    describe_hold,
    place_hold,
    record_version,
    release_hold,
    version_records,
)

ROLLED_BACK = "rolled_back"
RELEASED = "released"
SEVERITY = "warning"


@dataclass(frozen=True)
class Rollback:
    """What a rollback did."""

    product: str
    from_version: int  # the version current before the rollback
    to_version: int  # the version whose contents were restored
    new_version: int  # the restore's own version (now current)
    by: str
    reason: str
    audit_id: int
    notified: tuple[str, ...]  # consumer domains told


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a product: the Delta log merged with the platform's record of it."""

    version: int
    at: datetime
    operation: str  # WRITE, RESTORE, ... (Delta's operation)
    rows: int | None  # the table's rows at this version
    rows_written: int | None
    code_version: str | None
    run_id: str | None
    partition: str | None
    restored_from: int | None
    by: str | None
    reason: str | None
    current: bool
    held: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "at": self.at.isoformat()}


def _key(mesh: MeshSpecs, product: str) -> Key:
    try:
        return mesh.product(product).spec.key
    except KeyError as exc:
        raise MeshError(str(exc.args[0])) from None


def consumers(mesh: MeshSpecs, key: Key, catalog: Catalog | None = None) -> dict[str, list[str]]:
    """Other domains reading `key`, each with what reads it: its products (from the specs) and
    its approved subscriptions (from the catalog, when given)."""
    found: dict[str, list[str]] = {}
    for other in mesh.order:
        if other[0] != key[0] and key in mesh.upstream(other):
            found.setdefault(other[0], []).append(".".join(other))
    if catalog is not None:
        product = ".".join(key)
        for row in subscriptions(catalog, state=APPROVED, producer=key[0]):
            if row.product == product and row.consumer != key[0]:
                found.setdefault(row.consumer, []).append(f"subscription {row.id}")
    return found


def rollback(
    mesh: MeshSpecs,
    lakehouse: Lakehouse,
    notifier: Notifier,
    product: str,
    to: int | datetime,
    *,
    reason: str,
    by: str,
) -> Rollback:
    """Restore `product` to version `to` (or the version current at time `to`), hold it,
    audit it, and notify its consumers."""
    if not reason.strip():
        raise MeshError(f"a rollback of {product} needs a reason: --reason 'what broke'")
    key = _key(mesh, product)
    product = ".".join(key)
    target = to if isinstance(to, int) else version_at(lakehouse, key, to)
    current = check_target(lakehouse, key, target)
    with notifier.catalog().session() as session:
        earlier = version_records(session, product).get(target)
        new_version = restore(
            lakehouse,
            key,
            target,
            {"action": ROLLED_BACK, "by": by, "reason": reason, "from_version": str(current)},
        )
        record_version(
            session,
            product,
            new_version,
            operation=RESTORE,
            code_version=earlier.code_version if earlier else None,
            rows=rows_at(lakehouse, key, new_version),
            restored_from=target,
            actor=by,
        )
        place_hold(
            session, product, by=by, reason=reason, rolled_back_to=target, version=new_version
        )
        entry = record_audit(
            session,
            actor=by,
            action=ROLLED_BACK,
            subject=f"product:{product}",
            reason=reason,
            details={"from_version": current, "to_version": target, "new_version": new_version},
        )
        audit_id = entry.id
    done = Rollback(product, current, target, new_version, by, reason, audit_id, ())
    notified = _notify(mesh, notifier, key, done)
    return Rollback(**{**asdict(done), "notified": notified})


def _notify(mesh: MeshSpecs, notifier: Notifier, key: Key, done: Rollback) -> tuple[str, ...]:
    """One alert per consumer domain (unique per rollback), on that domain's channels."""
    told = []
    for domain, readers in consumers(mesh, key, notifier.catalog()).items():
        source = mesh.domains.get(domain)
        products = [r for r in readers if not r.startswith("subscription ")]
        rerun = (
            f" What they computed from versions after {done.to_version} may be wrong: rerun "
            f"them (`mesh materialize {' '.join(products)}`)."
            if products
            else ""
        )
        notifier.publish(
            AlertDraft(
                dedupe_key=f"rollback:{done.product}:{done.audit_id}:{domain}",
                kind="rollback",
                audience="domain",
                domain=domain,
                title=f"{done.product} was rolled back to version {done.to_version}",
                body=(
                    f"{done.by} rolled {done.product} back from version {done.from_version} to "
                    f"the contents of version {done.to_version} (now version "
                    f"{done.new_version}) because: {done.reason}\n"
                    f"Reading it in {domain}: {', '.join(readers)}.{rerun} {done.product} is "
                    "held (not refreshed) until its owner releases it."
                ),
                severity=SEVERITY,
                recipients=recipients(source.spec) if source else (),
                product=done.product,
            )
        )
        told.append(domain)
    return tuple(told)


def release(
    mesh: MeshSpecs, notifier: Notifier, product: str, *, reason: str, by: str
) -> ProductHold:
    """End the hold on `product` (audited): its next materialization writes again."""
    if not reason.strip():
        raise MeshError(f"a release of {product} needs a reason: --reason 'what was fixed'")
    product = ".".join(_key(mesh, product))
    with notifier.catalog().session() as session:
        hold = release_hold(session, product, by=by, reason=reason)
        record_audit(
            session,
            actor=by,
            action=RELEASED,
            subject=f"product:{product}",
            reason=reason,
            details={"hold": hold.id, "rolled_back_to": hold.rolled_back_to},
        )
    return hold


@dataclass(frozen=True)
class History:
    """A product's versions, newest first, and its hold (a sentence) when it is held."""

    product: str
    entries: tuple[HistoryEntry, ...]
    hold: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "product": self.product,
            "held": self.hold,
            "versions": [e.as_dict() for e in self.entries],
        }

    def render(self) -> str:
        """A table, newest first, with the hold (if any) above it."""
        lines = [self.hold] if self.hold else []
        lines.append(
            f"{'version':>7}  {'time (UTC)':<19}  {'operation':<9}  {'rows':>9}  "
            f"{'code':<8}  {'run':<8}  detail"
        )
        lines.extend(_line(e) for e in self.entries)
        return "\n".join(lines)


def _line(e: HistoryEntry) -> str:
    detail = []
    if e.restored_from is not None:
        detail.append(f"restored version {e.restored_from}")
    if e.by:
        detail.append(f"by {e.by}")
    if e.reason:
        detail.append(f"because {e.reason!r}")
    if e.partition:
        detail.append(f"partitions {e.partition}")
    if e.current:
        detail.append("current" + (", held" if e.held else ""))
    rows = "" if e.rows is None else str(e.rows)
    return (
        f"{e.version:>7}  {e.at:%Y-%m-%d %H:%M:%S}  {e.operation:<9}  {rows:>9}  "
        f"{e.code_version or '-':<8}  {(e.run_id or '-')[:8]:<8}  {'; '.join(detail)}"
    )


def history(
    mesh: MeshSpecs, lakehouse: Lakehouse, notifier: Notifier, product: str, limit: int = 50
) -> History:
    """The product's versions, newest first: the Delta log merged with the catalog's records."""
    key = _key(mesh, product)
    product = ".".join(key)
    log = delta_history(lakehouse, key)[:limit]
    with notifier.catalog().session() as session:
        records = version_records(session, product)
        hold = active_hold(session, product)
        held = describe_hold(hold) if hold is not None else None
    current = log[0].version if log else -1
    entries = []
    for commit in log:
        record = records.get(commit.version)
        entries.append(
            HistoryEntry(
                version=commit.version,
                at=commit.at,
                operation=commit.operation,
                rows=rows_at(lakehouse, key, commit.version),
                rows_written=record.rows
                if record and record.rows is not None
                else commit.rows_added,
                code_version=record.code_version if record else None,
                run_id=record.run_id if record else None,
                partition=record.partition if record else None,
                restored_from=commit.restored_from,
                by=(record.actor if record else None) or commit.mesh.get("by"),
                reason=commit.mesh.get("reason"),
                current=commit.version == current,
                held=held is not None and commit.version == current,
            )
        )
    return History(product, tuple(entries), held)
