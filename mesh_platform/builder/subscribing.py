"""An input node's subscription: its state, and the request the builder files for it (as
`mesh subscribe` files it: approved at once when the access policy allows, else its producer or
the platform decides).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import SpecError

if TYPE_CHECKING:
    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.db import Catalog

OWN = "own"
NONE = "none"


def _catalog() -> Catalog:
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    return Catalog.open(environment.catalog_url())


def _check_names(root: Path, consumer: str, product: str) -> None:
    """Refuse an unknown consumer domain or product (`SubscriptionError`), as the CLI does."""
    from mesh_platform.access.subscriptions import SubscriptionError, qualified
    from mesh_platform.spec.workspace import domain_folder, load_product

    if not (domain_folder(root, consumer) / "domain.yaml").is_file():
        raise SubscriptionError(f"no domain {consumer!r} under {root / 'domains'}")
    try:
        load_product(root, qualified(product))
    except SpecError as exc:
        raise SubscriptionError(
            f"no product {product!r} to subscribe to ({exc.problem}); see `mesh list`"
        ) from None


def request_access(
    root: Path, consumer: str, product: str, purpose: str, *, actor: str | None = None
) -> dict[str, Any]:
    """File `consumer`'s request to read `product` (`mesh subscribe`); its state as a dict
    (`id`, `consumer`, `product`, `state`, `changed`)."""
    from mesh_platform.access.routing import request_and_decide
    from mesh_platform.loader.mesh import MeshSpecs

    _check_names(root, consumer, product)
    mesh = MeshSpecs.load(root)
    done = request_and_decide(  # decided at once when the access policy allows
        _catalog(), mesh, consumer, product, actor=actor or consumer, purpose=purpose
    )
    return {**_as_dict(done.subscription), "changed": done.changed}


def input_state(root: Path, consumer: str, product: str) -> str:
    """ "approved" | "requested" | "denied" | "revoked" | "none" | "own": what a run of
    `consumer` reading `product` finds (the approvals file of the mesh's root applied first,
    as a run applies it before refusing)."""
    from mesh_platform.access.seeding import apply_approvals_file
    from mesh_platform.access.subscriptions import access_state

    if product.partition(".")[0] == consumer:
        return OWN
    catalog = _catalog()
    row = access_state(catalog, consumer, product)
    if row is None or row.state != "approved":
        apply_approvals_file(catalog, root)
        row = access_state(catalog, consumer, product)
    return NONE if row is None else str(row.state)


def _as_dict(row: Subscription) -> dict[str, Any]:
    return {
        "id": row.id,
        "consumer": row.consumer,
        "product": row.product,
        "state": row.state,
        "purpose": row.purpose,
    }
