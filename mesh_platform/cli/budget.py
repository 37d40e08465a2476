"""`mesh budget`: the budget standard's limits, waivers of them, and spend against them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from mesh_platform.cli.app import emit, main, prepare_environment

if TYPE_CHECKING:
    from mesh_platform.catalog import Catalog


def _catalog() -> Catalog:
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    prepare_environment()
    return Catalog.open(environment.catalog_url())


@main.group()
def budget() -> None:
    """Cost budgets: the platform's limits, domains' waivers, this month's spend."""


@budget.command()
@click.argument("domain")
@click.option(
    "--limit",
    "limit",
    required=True,
    type=click.Choice(["per_run", "per_product_month", "per_domain_month"]),
    help="The limit of the budget standard the waiver is to.",
)
@click.option("--product", help="Only this product (domain.product); default: all of them.")
@click.option(
    "--until",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day (UTC, inclusive) the waiver applies.",
)
@click.option("--by", "granted_by", required=True, help="Who grants it.")
@click.option("--reason", required=True, help="Why the domain may spend more.")
def grant(
    domain: str, limit: str, product: str | None, until: datetime, granted_by: str, reason: str
) -> None:
    """Grant DOMAIN a time-limited waiver of a budget limit (its breaches are not
    notified until the waiver expires)."""
    from mesh_platform.cost.waivers import grant_waiver
    from mesh_platform.loader.mesh import MeshSpecs

    if domain not in MeshSpecs.load().domains:
        raise click.ClickException(f"no domain {domain!r} (see `mesh list`)")
    row = grant_waiver(_catalog(), domain, limit, until.date(), granted_by, reason, product=product)
    scope = row.product or f"every product of {row.domain}"
    click.echo(
        f"waiver {row.id}: {row.limit} for {scope} until {row.until.isoformat()} "
        f"(granted by {row.granted_by})"
    )


@budget.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """Every budget waiver, active and expired, latest expiry first."""
    from mesh_platform.cost.waivers import list_waivers, render_waivers

    grants = list_waivers(_catalog())
    now = datetime.now(UTC)
    emit(as_json, [g.as_dict(now) for g in grants], render_waivers(grants, now))


@budget.command()
@click.option("--month", help="YYYY-MM (default: this month, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(month: str | None, as_json: bool) -> None:
    """Each domain's (and product's) production spend against its limits for the month."""
    from mesh_platform.cost.budget_watch import budget_status, render_status
    from mesh_platform.cost.budgets import budget_standard
    from mesh_platform.loader.mesh import MeshSpecs

    standard = budget_standard()
    if standard is None:
        raise click.ClickException("no budget standard is published (see docs/cost.md)")
    now = datetime.now(UTC)
    lines = budget_status(
        _catalog(),
        standard,
        month or now.strftime("%Y-%m"),
        now,
        domains=MeshSpecs.load().domains,
    )
    emit(as_json, [b.as_dict() for b in lines], render_status(lines))
