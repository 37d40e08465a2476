"""Who answers for what: a domain's operations (failures), access decisions and budget are
answered by the domain itself or by the platform team acting as its proxy (`answers_for:` in
`domain.yaml`). Failure routing, the approval sensor and budget alerts ask here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from mesh_platform.spec.model import DomainSpec

Concern = Literal["operations", "access", "budget"]
CONCERNS: tuple[Concern, ...] = ("operations", "access", "budget")
# The domain of the platform team (its domain.yaml names its channels and on-call).
PLATFORM_DOMAIN = "platform"


def answers(domain: DomainSpec, concern: Concern) -> Literal["domain", "platform"]:
    """`domain` or `platform`: who answers for `concern` of `domain` (the platform's own domain
    answers for itself)."""
    if domain.name == PLATFORM_DOMAIN:
        return "domain"
    value: Literal["domain", "platform"] = getattr(domain.answers_for, concern)
    return value


def answering(domain: str, concern: Concern, domains: Mapping[str, DomainSpec]) -> DomainSpec:
    """The domain whose people answer for `concern` of `domain`: itself, or the platform team
    (also when `domain` is not described, or for the platform when the mesh has none)."""
    own = domains.get(domain)
    platform = domains.get(PLATFORM_DOMAIN) or DomainSpec(name=PLATFORM_DOMAIN, team="platform")
    if own is None or answers(own, concern) == "platform":
        return platform
    return own


@dataclass(frozen=True)
class AnswersRow:
    """One line of the matrix: a domain and who answers for each concern."""

    domain: str
    team: str
    operations: str
    access: str
    budget: str
    clearances: tuple[str, ...]


def answers_matrix(
    domains: Mapping[str, DomainSpec], budget_by_platform: Collection[str] = ()
) -> list[AnswersRow]:
    """Every domain, by name, with who answers for its operations, access and budget (the
    answering team's name: the domain's own, or the platform's). `budget_by_platform`: domains
    whose budget alerts the budget standard sends to the platform team whatever domain.yaml
    says."""
    rows = []
    for name in sorted(domains):
        spec = domains[name]
        who = {c: answering(name, c, domains) for c in CONCERNS}
        if name in budget_by_platform:
            who["budget"] = answering(PLATFORM_DOMAIN, "budget", domains)
        rows.append(
            AnswersRow(
                domain=name,
                team=spec.team,
                operations=_label(spec, who["operations"]),
                access=_label(spec, who["access"]),
                budget=_label(spec, who["budget"]),
                clearances=spec.clearances,
            )
        )
    return rows


def _label(spec: DomainSpec, answering_domain: DomainSpec) -> str:
    if answering_domain.name == spec.name:
        return f"domain ({spec.team})"
    return f"platform ({answering_domain.team}, as proxy)"
