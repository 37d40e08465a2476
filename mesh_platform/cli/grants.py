"""The access policy seen from outside: `mesh grants` (SQL GRANT and column masks)."""

from __future__ import annotations

import click

from mesh_platform.cli.app import emit, loaded_mesh, main


@main.command()
@click.argument("product", required=False)
@click.option(
    "--dialect",
    type=click.Choice(["databricks"]),
    default="databricks",
    show_default=True,
    help="The warehouse's SQL: databricks (Unity Catalog GRANTs and column masks).",
)
@click.option(
    "--catalog",
    default="mesh",
    show_default=True,
    help="The warehouse catalog holding one schema per domain, one table per product.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the statements per product.")
def grants(product: str | None, dialect: str, catalog: str, as_json: bool) -> None:
    """The access policy as warehouse SQL: GRANTs and column masks, for PRODUCT
    (`domain.product`) or every product.

    The owning domain's team reads and modifies its tables, other domains' teams only read
    them, and each column some domain may not see in clear gets a mask applying the policy
    (docs/access.md).
    """
    from mesh_platform.access.grants import databricks_grants
    from mesh_platform.compile.contracts import contract_of

    mesh = loaded_mesh()
    try:
        sources = [mesh.product(product)] if product else [mesh.products[k] for k in mesh.order]
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    domains = [d.spec for d in mesh.domains.values()]
    exports = [
        databricks_grants(contract_of(s), domains, catalog, s.spec.tags, s.spec.visibility)
        for s in sources
    ]
    emit(
        as_json,
        [{"product": e.product, "dialect": dialect, "statements": e.statements} for e in exports],
        "\n".join(e.text() for e in exports).rstrip("\n"),
    )
