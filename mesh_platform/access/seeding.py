"""Approved subscriptions recorded from data, not from a domain's specs.

A domain's new cross-domain input creates a *request* (`request_declared`), decided at once
when the access rules approve it without a person (`access/routing.py`). Two more things
record approvals without a person deciding each one:

- `subscriptions.yaml` at the root of the mesh: the approvals the platform team maintains and
  versions with the mesh (the demo's cross-domain reads). `mesh up`, `mesh materialize` and
  every run apply it (`apply_approvals_file`), so a fresh home runs the demo end to end.
- `seed_subscriptions`: every cross-domain read the specs declare, approved (for test meshes
  whose reads are not under review).

Both are idempotent, and neither overrides a decision: a denied or revoked subscription stays
so until it is requested and approved again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.access.declared import (
    APPROVALS_FILE,
    DeclaredRead,
    MeshProducts,
    approvals_file,
    declared_reads,
)
from mesh_platform.access.models import Subscription
from mesh_platform.access.states import APPROVED, REQUESTED
from mesh_platform.access.subscriptions import access_state, approve, request_subscription
from mesh_platform.catalog.db import Catalog

if TYPE_CHECKING:
    from mesh_platform.access.routing import MeshSpecsView

FILE_ACTOR = f"platform:{APPROVALS_FILE}"


def _ensure_approved(
    catalog: Catalog, consumer: str, product: str, *, actor: str, purpose: str, reason: str
) -> bool:
    """Approve `consumer`'s access to `product` unless decided otherwise; True if recorded now."""
    row = access_state(catalog, consumer, product)
    if row is not None and row.state not in (REQUESTED,):
        return False  # approved already, or denied / revoked: a decision seeding never overrides
    if row is None:
        row = request_subscription(
            catalog, consumer, product, actor=actor, purpose=purpose
        ).subscription
    return approve(catalog, row.id, actor=actor, reason=reason, route="platform").changed


def seed_subscriptions(
    catalog: Catalog,
    mesh: MeshProducts,
    *,
    actor: str,
    reason: str = "a cross-domain read the mesh declares, approved when seeded",
) -> int:
    """Approve every cross-domain read `mesh`'s specs declare (idempotent, with audit
    entries); return how many were approved now."""
    return sum(
        _ensure_approved(
            catalog,
            read.consumer,
            read.product,
            actor=actor,
            purpose=f"input of {read.reader}",
            reason=reason,
        )
        for read in declared_reads(mesh)
    )


def request_declared(
    catalog: Catalog, mesh: MeshSpecsView, *, actor: str
) -> list[tuple[DeclaredRead, Subscription]]:
    """Request a subscription for each declared cross-domain read that has none (a spec gained
    an input from another domain), and decide each pending unrouted one at once by the access
    rules (`routing.decide_now`: approved when the policy allows, else routed to whoever
    decides); return the reads not approved, with their subscription."""
    from mesh_platform.access.routing import decide_now

    pending = []
    for read in declared_reads(mesh):
        row = access_state(catalog, read.consumer, read.product)
        if row is None:
            row = request_subscription(
                catalog,
                read.consumer,
                read.product,
                actor=actor,
                purpose=f"input of {read.reader}",
            ).subscription
        if row.state != APPROVED:
            pending.append((read, row))
    now = decide_now(catalog, [row for _, row in pending], mesh)
    decided = zip(pending, now, strict=True)
    return [(read, row) for (read, _), row in decided if row.state != APPROVED]


def apply_approvals_file(catalog: Catalog, root: Path) -> int:
    """Record the approvals of `root/subscriptions.yaml` (idempotent); how many were new."""
    return apply_approvals(catalog, approvals_file(root), root / APPROVALS_FILE)


def apply_approvals(
    catalog: Catalog, approvals: Iterable[tuple[str, str, str]], source: Path
) -> int:
    """Record `(consumer, product, purpose)` approvals made in `source`; how many were new."""
    return sum(
        _ensure_approved(
            catalog,
            consumer,
            product,
            actor=FILE_ACTOR,
            purpose=purpose,
            reason=f"approved by the platform team in {source.name}",
        )
        for consumer, product, purpose in approvals
    )
