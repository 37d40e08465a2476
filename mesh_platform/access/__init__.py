"""Subscribe and access: subscriptions and their audit, the access policy (attribute-based,
masking on read), read-only products and who answers for what.

Names whose modules need SQLAlchemy (the subscriptions' table, seeding) are imported on first
use: the planner imports the access policy when a code location loads, and `mesh list` or
`mesh validate` must not load the database machinery with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Light modules, imported now. `subscriptions` must be: it is both a module and a function of
# this package, and importing the module binds the package's name to it.
from mesh_platform.access.declared import (
    APPROVALS_FILE,
    DeclaredRead,
    approvals_file,
    declared_reads,
    unlisted_reads,
)
from mesh_platform.access.states import APPROVED, DENIED, REQUESTED, REVOKED, STATES
from mesh_platform.access.subscriptions import (
    SubscriptionError,
    SubscriptionRequired,
    Transition,
    access_state,
    approve,
    deny,
    request_subscription,
    require_subscription,
    revoke,
    route_request,
    subscription,
    subscriptions,
)

if TYPE_CHECKING:
    from mesh_platform.access.grants import GrantsError, databricks_grants
    from mesh_platform.access.masking import InputMask, mask_plan
    from mesh_platform.access.models import Subscription
    from mesh_platform.access.policy import (
        AccessPolicy,
        ColumnAccess,
        ProductAccess,
        access_for,
        access_policy,
        who_sees,
    )
    from mesh_platform.access.readonly import check_python_step
    from mesh_platform.access.seeding import (
        apply_approvals_file,
        request_declared,
        seed_subscriptions,
    )

# Names whose modules need SQLAlchemy, or that few commands use: imported on first use.
_LAZY = {
    "AccessPolicy": "policy",
    "ColumnAccess": "policy",
    "ProductAccess": "policy",
    "access_for": "policy",
    "access_policy": "policy",
    "who_sees": "policy",
    "InputMask": "masking",
    "mask_plan": "masking",
    "GrantsError": "grants",
    "databricks_grants": "grants",
    "check_python_step": "readonly",
    "Subscription": "models",
    "apply_approvals_file": "seeding",
    "request_declared": "seeding",
    "seed_subscriptions": "seeding",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "APPROVALS_FILE",
    "APPROVED",
    "DENIED",
    "REQUESTED",
    "REVOKED",
    "STATES",
    "AccessPolicy",
    "ColumnAccess",
    "DeclaredRead",
    "GrantsError",
    "InputMask",
    "ProductAccess",
    "Subscription",
    "SubscriptionError",
    "SubscriptionRequired",
    "Transition",
    "access_for",
    "access_policy",
    "access_state",
    "apply_approvals_file",
    "approvals_file",
    "approve",
    "check_python_step",
    "databricks_grants",
    "declared_reads",
    "deny",
    "mask_plan",
    "request_declared",
    "request_subscription",
    "require_subscription",
    "revoke",
    "route_request",
    "seed_subscriptions",
    "subscription",
    "subscriptions",
    "unlisted_reads",
    "who_sees",
]
