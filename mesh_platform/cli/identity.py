"""Who runs a deciding command (`mesh approve|deny|revoke|grant-clearance|rollback|release`),
and the teams of the mesh's domains those decisions are checked against
(`access/identity.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from mesh_platform.cli.app import mesh_root

if TYPE_CHECKING:
    from mesh_platform.access.identity import Decider
    from mesh_platform.spec.model import DomainSpec

BY_HELP = (
    "Deprecated: decisions are recorded under your identity (git's user.email, or "
    "MESH_USER_EMAIL); when given, it must be that identity."
)


def decider(by: str | None) -> Decider:
    """The person running the command, and the mesh's people to check them against.

    With `governance/people.yaml`, the person is the identity and `--by` must name it. A
    development mesh without the file checks nothing and records `--by` (or the identity);
    the production profile refuses to decide without the file.
    """
    from mesh_platform.access.identity import Decider, load_people, unknown_identity
    from mesh_platform.config import environment
    from mesh_platform.errors import ConfigurationError
    from mesh_platform.spec.governance import PEOPLE_FILE

    people = load_people(mesh_root())
    email = environment.acting_email()
    if people is None:
        if environment.current_profile() == "prod":
            raise ConfigurationError(
                f"no {PEOPLE_FILE}: in production every decision is checked against the "
                f"teams' people. Fix: create {PEOPLE_FILE} (docs/deployment.md, Identity)"
            )
        who = by or email
        if who is None:
            raise unknown_identity()
        return Decider(who, None)
    if email is None:
        raise unknown_identity()
    if by and by.strip().lower() != email:
        raise click.UsageError(
            f"--by {by} is not you: decisions are recorded under your identity {email} "
            "(git's user.email, or MESH_USER_EMAIL); drop --by"
        )
    return Decider(email, people)


def mesh_domains() -> Mapping[str, DomainSpec]:
    """Each domain's spec (its team), from the domain files only."""
    from mesh_platform.access.identity import domain_specs

    return domain_specs(mesh_root())


def requester(default: str) -> str:
    """Who files a request (recorded as its requester, so that they cannot decide it): the
    identity in a mesh with `governance/people.yaml`, else `default` (the consumer domain)."""
    from mesh_platform.config import environment
    from mesh_platform.spec.governance import PEOPLE_FILE

    if not (mesh_root() / PEOPLE_FILE).is_file():
        return default
    return environment.acting_email() or default
