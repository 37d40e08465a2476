"""Commands for domain teams writing products: list, validate, scaffold, standards."""

from __future__ import annotations

import sys

import click

from mesh_platform.cli.app import emit, loaded_mesh, main
from mesh_platform.errors import MeshError, SpecErrors


@main.command(name="list")
@click.option("--domain", help="Only this domain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_products(domain: str | None, as_json: bool) -> None:
    """List the products: key, visibility, inputs and description."""
    mesh = loaded_mesh()
    rows = [
        {
            "product": s.spec.qualified_name,
            "visibility": s.spec.visibility,
            "inputs": sorted(s.spec.inputs.values()),
            "description": s.spec.description.strip(),
            "file": str(s.path),
        }
        for s in (mesh.products[k] for k in mesh.order)
        if domain in (None, s.spec.domain)
    ]
    human = "\n".join(
        f"{r['product']:<40} {r['visibility']:<9} {r['description'][:70]}" for r in rows
    )
    emit(as_json, rows, human)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def validate(as_json: bool) -> None:
    """Check every spec (YAML, fields, inputs, cycles, SQL, contracts) without running."""
    from mesh_platform.loader.mesh import Mesh

    try:
        mesh = Mesh.load()
    except SpecErrors as exc:
        errors = [
            {"file": str(e.file), "line": e.line, "problem": e.problem, "fix": e.fix}
            for e in exc.errors
        ]
        emit(as_json, {"ok": False, "errors": errors}, f"{len(errors)} error(s):\n{exc}")
        sys.exit(1)
    emit(
        as_json,
        {"ok": True, "products": len(mesh.products)},
        f"ok: {len(mesh.products)} products in {len(mesh.domains)} domains",
    )


@main.command()
@click.argument("domain")
@click.argument("name")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PORT=PRODUCT",
    help="An input, e.g. orders=platform.silver_orders (repeatable).",
)
def scaffold(domain: str, name: str, inputs: tuple[str, ...]) -> None:
    """Create a new product NAME in DOMAIN: a spec and an example test to fill in."""
    from mesh_platform.dev.scaffold import scaffold_product

    pairs = {}
    for item in inputs:
        port, sep, ref = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write PORT=PRODUCT", param_hint="--input")
        pairs[port.strip()] = ref.strip()
    try:
        paths = scaffold_product(loaded_mesh(), domain, name, pairs)
    except MeshError as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        click.echo(f"created {path}")
    click.echo(
        f"next: edit the SQL, then `mesh preview {domain}.{name}` and `mesh test {domain}.{name}`"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def standards(as_json: bool) -> None:
    """List the platform's standards: steps, step sequences, SQL functions, business rules."""
    from mesh_platform.dev.standards import catalog, render

    rows = catalog()
    human = render(rows)
    emit(as_json, rows, human)
