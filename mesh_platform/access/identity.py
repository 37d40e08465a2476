"""Who is who: the people of each team (`governance/people.yaml`) and who may decide what.

A person is an email: git's `user.email` on the CLI, or the header an authenticating proxy
sets on the web (`config/environment.py` reads both; this module reads no environment). The
platform-owned file maps teams (a domain's `team:`) to their people:

    teams:
      data-platform: [platform-lead@example.com]
      sales-analytics: [sam@example.com]

Decisions check it: approving or denying a subscription request is for the team the routing
names (the platform domain's team for a central approval, else the team answering for the
producer's access), revoking also for the platform team; granting a clearance is for the
platform team; a rollback or release is for the product's domain's team, or the team answering
for its operations. Nobody decides their own request. A mesh without the file (a development
mesh) checks nothing and records decisions under the name given; the production profile
refuses to decide without it (`cli/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError, field_validator

from mesh_platform.access.answers import PLATFORM_DOMAIN, answering
from mesh_platform.errors import MeshError, SpecError, SpecErrors
from mesh_platform.spec.fields import Frozen
from mesh_platform.spec.governance import PEOPLE_FILE
from mesh_platform.spec.model import DomainSpec
from mesh_platform.spec.validation import validation_errors
from mesh_platform.spec.yaml_source import read_yaml, to_plain

if TYPE_CHECKING:
    from mesh_platform.access.models import Subscription


class DecisionRefused(MeshError):
    """A person may not take this decision: not a member of the deciding team, or their own
    request; the message names who may and how to become one."""


class PeopleFile(Frozen):
    """`governance/people.yaml`: each team (a domain's `team:`) and its people's emails."""

    teams: dict[str, tuple[str, ...]] = {}

    @field_validator("teams")
    @classmethod
    def _emails(cls, teams: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for team, people in teams.items():
            for person in people:
                if "@" not in person or " " in person.strip():
                    raise ValueError(
                        f"team {team!r}: {person!r} is not an email address (people are "
                        "named by the email git's user.email or the SSO proxy gives)"
                    )
        return {team: tuple(p.strip().lower() for p in people) for team, people in teams.items()}


@dataclass(frozen=True)
class People:
    """Who is in which team, as read from `file`."""

    teams: Mapping[str, tuple[str, ...]]
    file: Path

    def teams_of(self, person: str) -> tuple[str, ...]:
        """The teams `person` (an email) belongs to."""
        return tuple(t for t, people in self.teams.items() if person.lower() in people)

    def in_any(self, person: str, teams: Iterable[str]) -> bool:
        """Whether `person` belongs to one of `teams`."""
        return bool(set(self.teams_of(person)) & set(teams))


def load_people(root: Path) -> People | None:
    """The people of the mesh at `root` (`governance/people.yaml`), None without the file."""
    path = root / PEOPLE_FILE
    if not path.is_file():
        return None
    document = read_yaml(path)
    try:
        parsed = PeopleFile.model_validate(to_plain(document.data))
    except ValidationError as exc:
        raise SpecErrors(validation_errors(exc, path, document)) from None
    return People(parsed.teams, path)


@dataclass(frozen=True)
class Decider:
    """The person deciding (`email`), and the mesh's people (None: nothing is checked)."""

    email: str
    people: People | None

    def require(self, teams: Iterable[str], what: str, requested_by: str | None = None) -> None:
        """Refuse unless the person is in one of `teams` and did not ask for it themselves."""
        if self.people is None:
            return
        wanted = tuple(dict.fromkeys(teams))
        if self.people.in_any(self.email, wanted):
            if requested_by and requested_by.lower() == self.email.lower():
                raise DecisionRefused(
                    f"{self.email} may not {what}: it is their own request; another member of "
                    f"{' or '.join(wanted)} decides it"
                )
            return
        members = sorted({p for t in wanted for p in self.people.teams.get(t, ())})
        mine = ", ".join(self.people.teams_of(self.email)) or "no team"
        raise DecisionRefused(
            f"{self.email} may not {what}: only team {' or '.join(wanted)} may "
            f"({', '.join(members) or 'nobody is listed'}); {self.email} is in {mine} "
            f"({self.people.file})\n  fix: ask one of them, or ask the platform team to add "
            f"you to the team in {PEOPLE_FILE}"
        )


def platform_team(domains: Mapping[str, DomainSpec]) -> str:
    """The platform team: the platform domain's `team:`."""
    return answering(PLATFORM_DOMAIN, "access", domains).team


def subscription_deciders(
    row: Subscription, decision: str, domains: Mapping[str, DomainSpec]
) -> tuple[str, ...]:
    """The teams that may take `decision` (approve, deny, revoke) on subscription `row`."""
    platform = platform_team(domains)
    if row.route in ("platform", None):  # not routed yet: only the platform team, to be safe
        teams = [platform]
    else:
        teams = [answering(row.producer, "access", domains).team]
    if decision == "revoke":
        teams.append(platform)
    return tuple(dict.fromkeys(teams))


def check_subscription_decision(
    decider: Decider, row: Subscription, decision: str, domains: Mapping[str, DomainSpec]
) -> None:
    """Refuse `decision` on `row` unless `decider` may take it."""
    decider.require(
        subscription_deciders(row, decision, domains),
        f"{decision} subscription {row.id} ({row.consumer} -> {row.product})",
        requested_by=row.requested_by if decision != "revoke" else None,
    )


def operation_teams(domain: str, domains: Mapping[str, DomainSpec]) -> tuple[str, ...]:
    """Who may roll back or release a product of `domain`: its team, or the team answering
    for its operations."""
    own = domains.get(domain)
    teams = [own.team] if own else []
    teams.append(answering(domain, "operations", domains).team)
    return tuple(dict.fromkeys(teams))


def check_operation(
    decider: Decider, product: str, what: str, domains: Mapping[str, DomainSpec]
) -> None:
    """Refuse `what` (rollback, release) of `product` unless `decider` is of its teams."""
    domain = product.partition(".")[0]
    decider.require(operation_teams(domain, domains), f"{what} {product}")


def unknown_identity() -> SpecError:
    """The error when nobody says who runs the command."""
    return SpecError(
        "who is deciding? no identity: git's user.email is not set and MESH_USER_EMAIL is empty",
        fix="git config user.email you@example.com (the address the platform team lists in "
        f"{PEOPLE_FILE}), or set MESH_USER_EMAIL for a service account",
    )


def domain_specs(root: Path) -> dict[str, DomainSpec]:
    """Each domain's spec (its team) of the mesh at `root`, read from the domain files only; a
    domain whose file does not load is left out (`mesh validate` reports it)."""
    from mesh_platform.spec.loading import load_domain_spec
    from mesh_platform.spec.workspace import discover_domains

    domains = {}
    for folder in discover_domains(root):
        try:
            domains[folder.name] = load_domain_spec(folder)
        except SpecError:
            continue
    return domains
