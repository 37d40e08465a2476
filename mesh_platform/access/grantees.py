"""Who is granted what of a product outside the platform (`mesh grants`): the owner, and the
domains with an approved subscription that the access policy lets read it.

One decision for every output of `mesh grants` (Unity Catalog SQL, object-storage policies),
so that the warehouse and the storage credentials never disagree with each other or with the
platform's own checks on read (`require_subscription`, the access policy's masks):

- the owning domain reads and writes its product;
- another domain reads it only when the product is published, the access policy lets that
  domain read it at all, and the domain has an APPROVED subscription to it (a requested, denied
  or revoked one grants nothing); a subscription with a column scope reads only those columns;
- nobody else gets anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mesh_platform.access.policy import ProductAccess, who_sees
from mesh_platform.access.states import APPROVED
from mesh_platform.compile.contracts import PublishedContract
from mesh_platform.spec.model import DomainSpec

if TYPE_CHECKING:
    from mesh_platform.catalog.db import Catalog


@dataclass(frozen=True)
class Subscribed:
    """A domain's subscription to a product, as the grants read it from the catalog."""

    consumer: str
    product: str
    state: str
    ident: int
    columns: tuple[str, ...] = ()  # the scope; empty: every column


Subscriptions = Mapping[tuple[str, str], Subscribed]


def read_subscriptions(catalog: Catalog) -> dict[tuple[str, str], Subscribed]:
    """Every subscription of the catalog by `(consumer, domain.product)`, whatever its state.

    Raises `CatalogUnavailable` when the catalog cannot be read.
    """
    from mesh_platform.access.subscriptions import scoped_columns, subscriptions

    return {
        (row.consumer, row.product): Subscribed(
            row.consumer, row.product, row.state, row.id, scoped_columns(row)
        )
        for row in subscriptions(catalog)
    }


@dataclass(frozen=True)
class Grantee:
    """What one domain is granted of one product, and why (for the comment beside it).

    `columns` is None for every column, else the subscription's scope (in the contract's
    order); `access` is the access policy's view, for the column masks (None: not granted).
    """

    domain: str
    team: str
    granted: bool
    because: str
    columns: tuple[str, ...] | None = None
    access: ProductAccess | None = None

    @property
    def owner(self) -> bool:
        """Whether this is the owning domain (reads and writes)."""
        return self.because == "owner"


def grantees(
    contract: PublishedContract,
    domains: Iterable[DomainSpec],
    subscribed: Subscriptions,
    spec_tags: Mapping[str, str] | None = None,
    visibility: str | None = None,
) -> list[Grantee]:
    """Every domain's grant of the product `contract`, the owner first, then by name."""
    domains = sorted(domains, key=lambda d: d.name)
    owner = contract.domain
    seen = who_sees(contract, domains, spec_tags)
    published = (visibility or contract.visibility) == "published"
    found: list[Grantee] = []
    for domain in domains:
        access = seen[domain.name]
        if domain.name == owner:
            found.insert(0, Grantee(owner, domain.team, True, "owner", None, access))
            continue
        row = subscribed.get((domain.name, contract.qualified_name))
        refusal = _refusal(contract, domain.name, access, row, published)
        if refusal is not None:
            found.append(Grantee(domain.name, domain.team, False, refusal))
            continue
        assert row is not None
        found.append(_approved(contract, domain, row, access))
    return found


def _refusal(
    contract: PublishedContract,
    consumer: str,
    access: ProductAccess,
    row: Subscribed | None,
    published: bool,
) -> str | None:
    """Why `consumer` is granted nothing of the product, or None when it is granted."""
    if not published:
        return "internal product: only its domain reads it"
    if not access.readable:
        return f"the access policy hides it ({access.because})"
    if row is None:
        return (
            "no approved subscription (none requested: "
            f"`mesh subscribe {contract.qualified_name} --as {consumer} --purpose ...`)"
        )
    if row.state != APPROVED:
        return f"no approved subscription (subscription {row.ident} is {row.state})"
    return None


def _approved(
    contract: PublishedContract, domain: DomainSpec, row: Subscribed, access: ProductAccess
) -> Grantee:
    because = f"approved subscription {row.ident}"
    if not row.columns:
        return Grantee(domain.name, domain.team, True, because, None, access)
    scope = tuple(c.name for c in contract.columns if c.name in row.columns)
    gone = sorted(set(row.columns) - set(scope))
    if gone:
        because += f" (scope columns no longer in the contract: {', '.join(gone)})"
    if not scope:
        return Grantee(domain.name, domain.team, False, because + ": none of its columns left")
    return Grantee(domain.name, domain.team, True, because, scope, access)
