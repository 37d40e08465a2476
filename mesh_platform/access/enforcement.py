"""Enforcement: a product may read another domain's product only with an approved subscription.

Checked by the run before it reads anything. The catalog is opened only for products that read
across domains, so a domain reading only its own products never depends on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.config.environment import catalog_url
from mesh_platform.spec import workspace
from mesh_platform.spec.model import ProductSpec
from mesh_platform.spec.workspace import domain_folder

if TYPE_CHECKING:
    from mesh_platform.catalog.db import Catalog


def cross_domain_reads(spec: ProductSpec) -> list[str]:
    """The other domains' products `spec` reads, as `domain.product`."""
    refs = {".".join(ref) for ref in spec.input_refs().values() if ref[0] != spec.domain}
    return sorted(refs)


def approvals_roots(domain: str) -> list[Path]:
    """The roots of the meshes `domain` may belong to: the checkout, and the working directory
    of the process (`mesh up` and its runs work in the folder of the workspace they serve),
    those that hold the domain's folder."""
    candidates = dict.fromkeys([workspace.repo_root().resolve(), Path.cwd().resolve()])
    return [root for root in candidates if domain_folder(root, domain).is_dir()]


def require_access(
    spec: ProductSpec, catalog: Catalog | None = None, roots: list[Path] | None = None
) -> None:
    """Raise `SubscriptionRequired` for the first cross-domain input of `spec` that its domain
    has no approved subscription to.

    Before refusing, the platform team's approvals files (`subscriptions.yaml` in `roots`,
    by default `approvals_roots`) are applied once, so a fresh home runs the approved reads.
    """
    reads = cross_domain_reads(spec)
    if not reads:
        return
    # The catalog's machinery loads only for products that read across domains.
    from mesh_platform.access.seeding import apply_approvals_file
    from mesh_platform.access.subscriptions import SubscriptionRequired, require_subscription
    from mesh_platform.catalog.db import Catalog

    catalog = catalog or Catalog.open(catalog_url())
    applied = False
    for product in reads:
        try:
            require_subscription(catalog, spec.domain, product)
        except SubscriptionRequired:
            if applied:
                raise
            applied = True
            for root in approvals_roots(spec.domain) if roots is None else roots:
                apply_approvals_file(catalog, root)
            require_subscription(catalog, spec.domain, product)
