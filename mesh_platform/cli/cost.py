"""`mesh cost`: what the mesh's runs cost, per product, domain or team, per day or month."""

from __future__ import annotations

from datetime import datetime

import click

from mesh_platform.cli.app import emit, main, prepare_environment


@main.command()
@click.option(
    "--by",
    type=click.Choice(["product", "domain", "team"]),
    default="product",
    show_default=True,
    help="Group the runs by product, domain or team (the domain's `team:`).",
)
@click.option("--day", "period", flag_value="day", help="One total per day.")
@click.option("--month", "period", flag_value="month", help="One total per month.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only runs started on or after this date (YYYY-MM-DD, UTC).",
)
@click.option(
    "--kind",
    type=click.Choice(["run", "development"]),
    help="Only production runs, or only development runs (preview, test); default: both.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cost(
    by: str, period: str | None, since: datetime | None, kind: str | None, as_json: bool
) -> None:
    """Recorded run costs: runs, CPU seconds, compute units and dollars, costliest first."""
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment
    from mesh_platform.cost.rollup import domain_teams, render, rollup

    prepare_environment()
    since_day = since.date() if since is not None else None  # click gives a datetime
    rows = rollup(
        Catalog.open(environment.catalog_url()),
        by=by,  # type: ignore[arg-type]
        period=period or "all",  # type: ignore[arg-type]
        since=since_day,
        kind=kind,
        teams=domain_teams() if by == "team" else None,
    )
    emit(as_json, [r.as_dict() for r in rows], render(rows, by))  # type: ignore[arg-type]
