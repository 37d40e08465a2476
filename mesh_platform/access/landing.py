"""Landing belongs to the platform: who may declare a landing source.

A landing file is a raw operational export: every column in clear (names, addresses, phones),
read without a subscription. Only the domains the platform team names may declare a product
read from one (`source: {landing: ...}`): the access policy's `landing: {domains: [...]}`
(`standards/access_policy.yaml`, default `platform`), and the domains the mesh's approvals
file names under `landing:` (`subscriptions.yaml`, the platform team's reviewed file that
approves cross-domain reads too). Every other domain reads the platform's product built from
the export, through a subscription, masked by the access policy.

Checked when a domain is planned (its code location's load and `mesh validate` alike).
"""

from __future__ import annotations

from pathlib import Path

from mesh_platform.access.declared import APPROVALS_FILE, landing_approved
from mesh_platform.access.policy import access_policy
from mesh_platform.spec.loading import ProductSource


def landing_domains(root: Path) -> tuple[str, ...]:
    """The domains that may declare landing sources in the mesh under `root`."""
    named = access_policy().landing.domains
    return tuple(dict.fromkeys([*named, *landing_approved(root)]))


def check_landing_source(source: ProductSource, allowed: tuple[str, ...]) -> None:
    """A `SpecError` at `source:` when `source`'s domain may not declare a landing source."""
    spec = source.spec
    if spec.source is None or spec.domain in allowed:
        return
    owners = ", ".join(allowed) or "(none)"
    raise source.error(
        f"{spec.qualified_name} declares the landing source {spec.source.landing!r}, but only "
        f"the platform's ingestion domains ({owners}) may read landing files: they are raw "
        "operational exports (every column in clear), read without a subscription",
        "source",
        fix=f"read the product the platform builds from {spec.source.landing!r} instead: "
        f"`inputs: {{{spec.source.landing}: <domain>.<product>}}` with a subscription "
        f"(`mesh list --domain {allowed[0] if allowed else 'platform'}`, then `mesh subscribe`); "
        "or ask the platform team to ingest it (`landing: {domains: [...]}` in "
        f"standards/access_policy.yaml, or `landing:` in the mesh's {APPROVALS_FILE})",
    )
