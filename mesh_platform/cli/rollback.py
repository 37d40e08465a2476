"""A product's versions: history, rollback and release (docs/versions.md)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

import click

from mesh_platform.cli.app import emit, main, mesh_root, prepare_environment

BY_HELP = (
    "Deprecated: recorded under your identity (git's user.email, MESH_USER_EMAIL) when the "
    "mesh has governance/people.yaml, and then it must be that identity."
)


def _target(value: str) -> int | datetime:
    """`--to`: a Delta version number, or a time (ISO 8601, UTC unless it says otherwise)."""
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a version number (e.g. 3) nor a time (e.g. "
            "2026-11-26T08:00:00, UTC unless it carries an offset); `mesh history` lists both",
            param_hint="--to",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _operator(mesh: Any, product: str, what: str, by: str | None) -> str:
    """Who rolls back or releases `product`, checked against governance/people.yaml (its
    domain's team, or the team answering for its operations): their identity. A development
    mesh without the file takes `--by` or the user name, unchecked."""
    from mesh_platform.access.identity import check_operation
    from mesh_platform.cli.identity import decider

    person = decider(by or (None if _has_people() else getpass.getuser()))
    if person.people is not None:
        domains = {name: source.spec for name, source in mesh.domains.items()}
        check_operation(person, product, what, domains)
    return person.email


def _has_people() -> bool:
    from mesh_platform.spec.governance import PEOPLE_FILE

    return (mesh_root() / PEOPLE_FILE).is_file()


def _context() -> tuple[Any, Any, Any]:
    """The mesh's specs, the lakehouse and the notifier (catalog) of this environment."""
    from mesh_platform.config import environment
    from mesh_platform.dagster.resources import build_notifier
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.loader.mesh import MeshSpecs

    prepare_environment()
    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    return MeshSpecs.load(mesh_root()), lakehouse, build_notifier()


@main.command()
@click.argument("product")
@click.option("--limit", default=50, show_default=True, help="Newest versions shown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(product: str, limit: int, as_json: bool) -> None:
    """PRODUCT's versions, newest first: time, rows, code version and run that wrote each,
    rollbacks (who, why) and whether it is held."""
    from mesh_platform.ops.rollback import history as product_history

    mesh, lakehouse, notifier = _context()
    found = product_history(mesh, lakehouse, notifier, product, limit)
    emit(as_json, found.as_dict(), found.render())


@main.command()
@click.argument("product")
@click.option(
    "--to",
    "target",
    required=True,
    help="The version to restore (a number from `mesh history`) or a time: the version "
    "current then.",
)
@click.option("--reason", required=True, help="Why, for the audit log and the consumers.")
@click.option("--by", default=None, help=BY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rollback(product: str, target: str, reason: str, by: str | None, as_json: bool) -> None:
    """Restore PRODUCT's table to an earlier version (a new version; nothing is deleted),
    audit it, notify the domains reading it, and hold it until `mesh release`."""
    from dataclasses import asdict

    from mesh_platform.ops.rollback import rollback as roll_back

    mesh, lakehouse, notifier = _context()
    done = roll_back(
        mesh,
        lakehouse,
        notifier,
        product,
        _target(target),
        reason=reason,
        by=_operator(mesh, product, "roll back", by),
    )
    told = ", ".join(done.notified) or "no other domain reads it"
    emit(
        as_json,
        asdict(done),
        f"{done.product}: restored the contents of version {done.to_version} as version "
        f"{done.new_version} (was {done.from_version}); audit entry {done.audit_id}; "
        f"consumers notified: {told}.\n{done.product} is held: no run overwrites it until "
        f"`mesh release {done.product} --reason ...`",
    )


@main.command()
@click.argument("product")
@click.option("--reason", required=True, help="Why it may be refreshed again (audit log).")
@click.option("--by", default=None, help=BY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def release(product: str, reason: str, by: str | None, as_json: bool) -> None:
    """End PRODUCT's hold after a rollback: its next materialization (automation, schedule or
    `mesh materialize`) writes it again."""
    from mesh_platform.ops.rollback import release as release_product

    mesh, _, notifier = _context()
    person = _operator(mesh, product, "release", by)
    hold = release_product(mesh, notifier, product, reason=reason, by=person)
    emit(
        as_json,
        {"product": hold.product, "released_by": hold.released_by, "reason": reason},
        f"{hold.product} released: its next materialization writes it "
        f"(`mesh materialize {hold.product}` to refresh it now).",
    )
