"""Enforcement: a product may read another domain's product only with an approved subscription.

Checked by the run before it reads anything (the asset passes the check to
`materialize_product` as `access=`). Reads no file and no environment of its own: the caller
gives the catalog, opened only for products that read across domains (a domain reading only
its own products never depends on it), and decides what may be approved before refusing.

A refusal is an *access wait*, not a failure of the product's SQL, contract or quality:
`AccessWait` names every input without an approved subscription, one block each, saying who
decides and the command they run (`run/failures.py` records it as such: no contract check
result, no alert, no effect on quality scores).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mesh_platform.access.scope import ColumnScope, Scopes
from mesh_platform.access.subscriptions import SubscriptionRequired
from mesh_platform.errors import BusinessLogicError
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.db import Catalog

# Who decides a request routed to each route, as the consumer is told.
DECIDERS = {
    "platform": "the platform team",
    "producer": "the {producer} domain (the producer)",
}


def access_block(row: Subscription | None, consumer: str, product: str) -> str:
    """What `consumer`'s access to `product` waits for, as one block: the subscription's
    state, then who acts and the command they run."""
    refused = str(
        SubscriptionRequired(
            consumer, product, None if row is None else row.state, None if row is None else row.id
        )
    )
    if row is None or row.state != "requested":
        return refused  # the consumer asks (again): its fix line says how
    headline = refused.split("\n", 1)[0]
    who = DECIDERS.get(row.route or "", "").format(producer=product.partition(".")[0])
    if not who:
        return (
            f"{headline}\n  who decides: nobody yet: the request is not routed; `mesh validate` "
            "(or the approval sensor of `mesh up`) routes it by the access policy"
        )
    return (
        f"{headline}\n  who decides: {who}\n"
        f'  they run: mesh approve {row.id} --by THEIR-NAME --reason "..."  '
        f'(or: mesh deny {row.id} --by THEIR-NAME --reason "...")'
    )


class AccessWait(SubscriptionRequired):
    """A run refused before reading: inputs of other domains without an approved subscription,
    one block each (`access_block`). Not a failure of the product's SQL, contract or quality."""

    def __init__(self, consumer: str, product: str, blocks: dict[str, str]) -> None:
        self.consumer = consumer
        self.product = product
        self.inputs = tuple(blocks)
        self.state = None
        self.refused_fix = (  # the run's failure guidance (run/failures.py)
            "nothing of the product failed: it waits for access (above); re-run once approved"
        )
        text = "\n".join(blocks.values())
        BusinessLogicError.__init__(
            self, f"{product} waits for access to {len(blocks)} input(s) of other domains:\n{text}"
        )


def cross_domain_reads(spec: ProductSpec) -> list[str]:
    """The other domains' products `spec` reads, as `domain.product`."""
    refs = {".".join(ref) for ref in spec.input_refs().values() if ref[0] != spec.domain}
    return sorted(refs)


def require_access(
    spec: ProductSpec,
    catalog: Callable[[], Catalog],
    *,
    approvals: Callable[[Catalog], object] | None = None,
) -> Scopes:
    """Raise `AccessWait` naming every cross-domain input of `spec` that its domain has
    no approved subscription to (one block each); return the column scopes of its approved
    subscriptions that have one (`access/scope.py`: the reader checks them and reads only
    those columns).

    `catalog` opens the catalog; it is called only when `spec` reads across domains.
    `approvals`, the caller's (e.g. the approvals file of its mesh root applied), records
    approvals once, at the first read found without one, before that read is checked again:
    a fresh home runs the approved reads, and nothing is written while every read is approved.
    """
    reads = cross_domain_reads(spec)
    if not reads:
        return {}
    # The catalog's machinery loads only for products that read across domains.
    from mesh_platform.access.subscriptions import (
        access_state,
        require_subscription,
        scoped_columns,
    )

    opened = catalog()
    pending = approvals
    scopes: dict[str, ColumnScope] = {}
    refused: dict[str, str] = {}
    for product in reads:
        try:
            row = require_subscription(opened, spec.domain, product)
        except SubscriptionRequired:
            if pending is not None:
                pending(opened)
                pending = None
            try:
                row = require_subscription(opened, spec.domain, product)
            except SubscriptionRequired:
                found = access_state(opened, spec.domain, product)
                refused[product] = access_block(found, spec.domain, product)
                continue
        columns = scoped_columns(row) if row is not None else ()
        if row is not None and columns:
            scopes[product] = ColumnScope(spec.domain, product, row.id, frozenset(columns))
    if refused:
        raise AccessWait(spec.domain, spec.qualified_name, refused)
    return scopes
