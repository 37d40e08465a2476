"""Contracts between domains: the ODCS document, impact analysis and the breaking-change check."""

from __future__ import annotations

import json
from typing import Any

import click

from mesh_platform.cli.app import (
    dagster_home,
    emit,
    loaded_mesh,
    main,
    mesh_root,
    prepare_environment,
)


@main.command()
@click.argument("product")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def contract(product: str, as_json: bool) -> None:
    """The published contract of PRODUCT (domain.product) as an Open Data Contract Standard
    (ODCS v3) document: columns with types, formulas and classification, quality, SLA, team."""
    from mesh_platform.cli.isolation import warn_left_out
    from mesh_platform.marketplace.impact_load import mesh_for_product
    from mesh_platform.marketplace.odcs import odcs_document, odcs_yaml

    mesh = mesh_for_product(mesh_root(), product)  # plans only the product's domain
    warn_left_out(mesh)
    if as_json:
        click.echo(json.dumps(odcs_document(mesh, product), indent=2))
    else:
        click.echo(odcs_yaml(mesh, product), nl=False)


_IMPACT_NO_SYNC_HELP = (
    "Answer from the catalog as last synced (by the `mesh up` sensor or a command), even when "
    "the specs changed since."
)


@main.command()
@click.argument("product")
@click.option("--column", help="Only what depends on this column of PRODUCT.")
@click.option("--no-sync", is_flag=True, help=_IMPACT_NO_SYNC_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def impact(product: str, column: str | None, no_sync: bool, as_json: bool) -> None:
    """Every product downstream of PRODUCT (domain.product), transitively and across domains:
    which of its columns depend on it, by what formula, and who owns it.

    Answered from the catalog when it is in step with the specs (nothing is planned), else
    from the specs, planning the domains downstream."""
    report = _impact_from_catalog(product, column, no_sync)
    if report is None:
        from mesh_platform.cli.isolation import warn_left_out
        from mesh_platform.marketplace.impact import impact as analyse
        from mesh_platform.marketplace.impact_load import mesh_for_impact

        mesh = mesh_for_impact(mesh_root(), product)  # plans only the domains downstream
        warn_left_out(mesh)
        report = analyse(mesh, product, column)
    emit(as_json, report.to_dict(), report.render())


def _impact_from_catalog(product: str, column: str | None, no_sync: bool) -> Any:
    """The report from the catalog, or None when the catalog is not in step with the mesh
    (and `no_sync` is off): its last sync's mark differs from what the mesh is now."""
    from mesh_platform.catalog import Catalog, CatalogUnavailable
    from mesh_platform.config import environment
    from mesh_platform.marketplace.freshness import is_synced, sync_digest
    from mesh_platform.marketplace.impact import ImpactError
    from mesh_platform.marketplace.impact_catalog import catalog_impact

    prepare_environment()
    if no_sync:
        return catalog_impact(Catalog.open(environment.catalog_url()), product, column)
    try:
        catalog = Catalog.open(environment.catalog_url())
        digest = sync_digest(catalog, mesh_root(), environment.lake_root(), dagster_home())
        if is_synced(catalog, digest):
            return catalog_impact(catalog, product, column)
    except (CatalogUnavailable, ImpactError):
        pass  # the specs answer (and say why a product is left out)
    return None


@main.command()
@click.option(
    "--base",
    default="main",
    show_default=True,
    help="The git ref (branch, tag, commit) whose contracts the working tree is compared with.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff(base: str, as_json: bool) -> None:
    """Compare every product's contract in the working tree with BASE and classify each change.

    Exits 1 when a published product changes in a breaking way (column removed or renamed,
    type narrowed, column made nullable, rule removed or loosened, SLA loosened, product
    unpublished) without a MAJOR version bump, naming the consumers and columns affected.
    Run it before merging (CI).
    """
    from mesh_platform.marketplace.diff import diff_contracts
    from mesh_platform.marketplace.diff_git import load_at_ref

    head = loaded_mesh()
    report = diff_contracts(load_at_ref(mesh_root(), base), head, base)
    emit(as_json, report.to_dict(), report.render())
    if report.failed:
        raise SystemExit(1)
