"""Contracts between domains: the ODCS document, impact analysis and the breaking-change check."""

from __future__ import annotations

import json

import click

from mesh_platform.cli.app import emit, loaded_mesh, main, mesh_root


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


@main.command()
@click.argument("product")
@click.option("--column", help="Only what depends on this column of PRODUCT.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def impact(product: str, column: str | None, as_json: bool) -> None:
    """Every product downstream of PRODUCT (domain.product), transitively and across domains:
    which of its columns depend on it, by what formula, and who owns it."""
    from mesh_platform.cli.isolation import warn_left_out
    from mesh_platform.marketplace.impact import impact as analyse
    from mesh_platform.marketplace.impact_load import mesh_for_impact

    mesh = mesh_for_impact(mesh_root(), product)  # plans only the domains downstream
    warn_left_out(mesh)
    report = analyse(mesh, product, column)
    emit(as_json, report.to_dict(), report.render())


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
