"""Clearances: requested by a domain, granted by the platform team, never self-declared.

A domain's clearances (what the access policy reads for it as a consumer) are the grants of
`governance/clearances.yaml` at the root of the mesh (`spec/governance.py` reads them when a
domain loads). The grants live in a file rather than only in the catalog because every code
location plans its masking at load, from files, without the catalog; the file is versioned and
owned by the platform team (CODEOWNERS), like `subscriptions.yaml`. Each request and grant is
also an entry of the audit log (subject `clearance:<domain>:<clearance>`): who, when, why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.access.identity import Decider, platform_team
from mesh_platform.access.policy import access_policy
from mesh_platform.errors import MeshError
from mesh_platform.spec.governance import CLEARANCES_FILE, read_clearance_grants
from mesh_platform.spec.model import DomainSpec

if TYPE_CHECKING:
    from mesh_platform.catalog.db import Catalog

REQUESTED = "clearance_requested"
GRANTED = "clearance_granted"
HEADER = (
    "# Clearances the platform team granted (`mesh grant-clearance` appends here; a domain\n"
    "# asks with `mesh request-clearance`). See docs/access.md, Clearances.\n"
)


class ClearanceError(MeshError):
    """A clearance request or grant that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class ClearanceRequest:
    """A request or grant as recorded: the domain, the clearance, who, why."""

    domain: str
    clearance: str
    by: str
    reason: str
    state: str  # requested | granted


def subject(domain: str, clearance: str) -> str:
    """The audit log's subject of `domain`'s `clearance`."""
    return f"clearance:{domain}:{clearance}"


def known_clearances() -> tuple[str, ...]:
    """The clearances the access policy reads (any rule's `clear_for`)."""
    policy = access_policy()
    return tuple(sorted({c for r in (*policy.columns, *policy.products) for c in r.clear_for}))


def _check(root: Path, domain: str, clearance: str, domains: Collection[str]) -> None:
    if domain not in domains:
        raise ClearanceError(f"no domain {domain!r}; domains: {', '.join(sorted(domains))}")
    known = known_clearances()
    if clearance not in known:
        raise ClearanceError(
            f"no clearance {clearance!r} in the access policy; it reads: {', '.join(known)} "
            "(standards/access_policy.yaml)"
        )
    if clearance in read_clearance_grants(root).of(domain):
        raise ClearanceError(f"{domain} already has clearance {clearance} ({CLEARANCES_FILE})")


def request_clearance(
    catalog: Catalog,
    root: Path,
    domain: str,
    clearance: str,
    *,
    actor: str,
    reason: str,
    domains: Collection[str],
) -> ClearanceRequest:
    """Ask the platform team for `clearance` for `domain` (an audit entry it reads)."""
    from mesh_platform.catalog.audit import record_audit

    if not reason.strip():
        raise ClearanceError("say why the domain needs it: --reason is required")
    _check(root, domain, clearance, domains)
    with catalog.session() as session:
        record_audit(
            session, actor=actor, action=REQUESTED, subject=subject(domain, clearance),
            reason=reason, details={"domain": domain, "clearance": clearance},
        )  # fmt: skip
    return ClearanceRequest(domain, clearance, actor, reason, "requested")


def clearance_requests(catalog: Catalog) -> list[ClearanceRequest]:
    """Every clearance's latest request or grant, by subject."""
    from mesh_platform.catalog.audit import audit_entries

    latest: dict[str, ClearanceRequest] = {}
    with catalog.session() as session:
        for entry in audit_entries(session, subject_prefix="clearance:"):
            _, domain, clearance = entry.subject.split(":", 2)
            state = "granted" if entry.action == GRANTED else "requested"
            latest[entry.subject] = ClearanceRequest(
                domain, clearance, entry.actor, entry.reason, state
            )
    return list(latest.values())


def grant_clearance(
    catalog: Catalog,
    root: Path,
    domain: str,
    clearance: str,
    *,
    decider: Decider,
    reason: str,
    domains: Mapping[str, DomainSpec],
) -> ClearanceRequest:
    """Grant `clearance` to `domain`: a member of the platform team, not its requester; the
    grant is appended to `governance/clearances.yaml` and audited in one transaction."""
    from mesh_platform.catalog.audit import record_audit

    if not reason.strip():
        raise ClearanceError("say why: --reason is required to grant a clearance")
    _check(root, domain, clearance, domains)
    pending = {(r.domain, r.clearance): r for r in clearance_requests(catalog)}.get(
        (domain, clearance)
    )
    decider.require(
        (platform_team(domains),),
        f"grant clearance {clearance} to {domain}",
        requested_by=pending.by if pending and pending.state == "requested" else None,
    )
    with catalog.session() as session:
        record_audit(
            session, actor=decider.email, action=GRANTED, subject=subject(domain, clearance),
            reason=reason, details={"domain": domain, "clearance": clearance,
                                    "file": CLEARANCES_FILE},
        )  # fmt: skip
        append_grant(root, domain, clearance, by=decider.email, reason=reason)
    return ClearanceRequest(domain, clearance, decider.email, reason, "granted")


def append_grant(root: Path, domain: str, clearance: str, *, by: str, reason: str) -> None:
    """Append one grant to `root/governance/clearances.yaml`, keeping its comments."""
    from io import StringIO

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = root / CLEARANCES_FILE
    yaml = YAML()
    yaml.width = 100
    text = path.read_text(encoding="utf-8") if path.is_file() else HEADER + "grants: []\n"
    data = yaml.load(text) or CommentedMap()
    grants = data.get("grants")
    if not isinstance(grants, CommentedSeq) or not grants:
        grants = CommentedSeq()
        data["grants"] = grants
    when = datetime.now(UTC).replace(microsecond=0).isoformat()
    grants.append(
        CommentedMap(
            domain=domain, clearance=clearance, granted_by=by, granted_at=when, reason=reason
        )
    )
    out = StringIO()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(data, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(out.getvalue(), encoding="utf-8")
    temporary.replace(path)
    read_clearance_grants(root)  # what was written must read back
