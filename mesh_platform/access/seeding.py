"""Approved subscriptions recorded from data, not from a domain's specs.

A domain's new cross-domain input creates a *request* (`request_declared`); only a decision
approves it. Two things record approvals without a person deciding each one:

- `subscriptions.yaml` at the root of the mesh: the approvals the platform team maintains and
  versions with the mesh (the demo's cross-domain reads). `mesh up`, `mesh materialize` and
  every run apply it (`apply_approvals_file`), so a fresh home runs the demo end to end.
- `seed_subscriptions`: every cross-domain read the specs declare, approved (for test meshes
  whose reads are not under review).

Both are idempotent, and neither overrides a decision: a denied or revoked subscription stays
so until it is requested and approved again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mesh_platform.access.models import APPROVED, REQUESTED, Subscription
from mesh_platform.access.subscriptions import (
    SubscriptionError,
    access_state,
    approve,
    qualified,
    request_subscription,
)
from mesh_platform.catalog.db import Catalog
from mesh_platform.errors import SpecError
from mesh_platform.spec.loading import ProductSource

APPROVALS_FILE = "subscriptions.yaml"
FILE_ACTOR = f"platform:{APPROVALS_FILE}"


class MeshProducts(Protocol):
    """What seeding reads of a mesh: its products' specs by `(domain, product)`."""

    @property
    def products(self) -> Mapping[tuple[str, str], ProductSource]: ...


@dataclass(frozen=True)
class DeclaredRead:
    """A cross-domain input a spec declares: who reads what, and through which product."""

    consumer: str
    product: str  # domain.product read
    reader: str  # domain.product that reads it


def declared_reads(mesh: MeshProducts) -> list[DeclaredRead]:
    """Every read of another domain's product the specs declare, in a stable order."""
    found: dict[tuple[str, str], DeclaredRead] = {}
    for key, source in sorted(mesh.products.items()):
        for ref in source.spec.input_refs().values():
            if ref[0] != key[0]:
                read = DeclaredRead(key[0], ".".join(ref), ".".join(key))
                found.setdefault((read.consumer, read.product), read)
    return list(found.values())


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
    catalog: Catalog, mesh: MeshProducts, *, actor: str
) -> list[tuple[DeclaredRead, Subscription]]:
    """Request a subscription for each declared cross-domain read that has none (a spec gained
    an input from another domain); return the reads not approved, with their subscription."""
    waiting = []
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
            waiting.append((read, row))
    return waiting


class _Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer: str
    product: str
    purpose: str = ""


class _ApprovalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approved: tuple[_Approval, ...] = Field(default=())


def approvals_file(root: Path) -> list[tuple[str, str, str]]:
    """`(consumer, product, purpose)` of each approval in `root/subscriptions.yaml` (none when
    the file does not exist); a malformed file is a `SpecError` with its line."""
    from mesh_platform.spec.yaml_source import read_yaml, to_plain

    path = root / APPROVALS_FILE
    if not path.is_file():
        return []
    document = read_yaml(path)
    try:
        parsed = _ApprovalsFile.model_validate(to_plain(document.data))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(
            f"{first['msg']} at {'.'.join(str(p) for p in first['loc'])}",
            file=path,
            line=document.line_of(first["loc"]),
            fix="each entry of `approved:` is {consumer: DOMAIN, product: DOMAIN.PRODUCT, "
            "purpose: TEXT}",
        ) from None
    out = []
    for index, entry in enumerate(parsed.approved):
        try:
            qualified(entry.product)
        except SubscriptionError as exc:
            raise SpecError(
                str(exc), file=path, line=document.line_of(("approved", index, "product"))
            ) from None
        out.append((entry.consumer, entry.product, entry.purpose))
    return out


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
