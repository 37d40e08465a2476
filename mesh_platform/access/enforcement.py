"""Enforcement: a product may read another domain's product only with an approved subscription.

Checked by the run before it reads anything (the asset passes the check to
`materialize_product` as `access=`). Reads no file and no environment of its own: the caller
gives the catalog, opened only for products that read across domains (a domain reading only
its own products never depends on it), and decides what may be approved before refusing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mesh_platform.access.scope import ColumnScope, Scopes
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    from mesh_platform.catalog.db import Catalog


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
    """Raise `SubscriptionRequired` for the first cross-domain input of `spec` that its domain
    has no approved subscription to; return the column scopes of its approved subscriptions
    that have one (`access/scope.py`: the reader checks them and reads only those columns).

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
        SubscriptionRequired,
        require_subscription,
        scoped_columns,
    )

    opened = catalog()
    pending = approvals
    scopes: dict[str, ColumnScope] = {}
    for product in reads:
        try:
            row = require_subscription(opened, spec.domain, product)
        except SubscriptionRequired:
            if pending is None:
                raise
            pending(opened)
            pending = None
            row = require_subscription(opened, spec.domain, product)
        columns = scoped_columns(row) if row is not None else ()
        if row is not None and columns:
            scopes[product] = ColumnScope(spec.domain, product, row.id, frozenset(columns))
    return scopes
