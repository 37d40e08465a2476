"""Commands for domain teams writing products: list, validate, scaffold, preview, test."""

from __future__ import annotations

import json
import sys

import click

from mesh_platform.cli.app import emit, loaded_mesh, main, prepare_environment
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
@click.argument("product")
@click.option("--rows", default=5, show_default=True, help="Sample rows per step.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def preview(product: str, rows: int, as_json: bool) -> None:
    """Show PRODUCT (domain.product) step by step: schema, row count and a sample after each."""
    from mesh_platform.config import environment
    from mesh_platform.cost import CostRates
    from mesh_platform.dev.preview import costed_preview
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.security.keys import build_keyring

    prepare_environment()
    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    try:
        run = costed_preview(
            loaded_mesh(), product, lakehouse, build_keyring(), environment.catalog_url(),
            CostRates.from_environment(), rows,
        )
    except (KeyError, MeshError) as exc:
        raise click.ClickException(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    steps = run.steps
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "step": s.name,
                        "kind": s.kind,
                        "rows": s.rows,
                        "schema": s.schema,
                        "sample": s.sample.to_dicts(),
                    }
                    for s in steps
                ],
                indent=2,
                default=str,
            )
        )
        click.echo(run.estimate.describe(), err=True)  # stdout stays the JSON document
        return
    for s in steps:
        click.echo(f"== step {s.name} ({s.kind}): {s.rows} rows")
        click.echo("   " + ", ".join(f"{k}: {v}" for k, v in s.schema.items()))
        click.echo(str(s.sample))
    click.echo(run.estimate.describe())


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(target: str | None, as_json: bool) -> None:
    """Run the example-based product tests (all, a DOMAIN, or a DOMAIN.PRODUCT)."""
    from mesh_platform.dev.product_tests import discover, load_cases, record_development, run_case

    mesh = loaded_mesh()
    results = [
        run_case(case, mesh) for path in discover(mesh, target) for case in load_cases(path, mesh)
    ]
    for result in results:
        record_development(result, mesh)
    failed = [r for r in results if not r.passed]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "product": r.case.product,
                        "case": r.case.name,
                        "passed": r.passed,
                        "diff": r.diff,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            click.echo(f"{'PASS' if r.passed else 'FAIL'} {r.case.product}: {r.case.name}")
            if r.diff:
                click.echo(r.diff)
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if not results:
        raise click.ClickException(f"no product tests found for {target or 'the mesh'}")
    if failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def standards(as_json: bool) -> None:
    """List the platform's standards: steps, step sequences, SQL functions, business rules."""
    from mesh_platform.dev.standards import catalog, render

    rows = catalog()
    human = render(rows)
    emit(as_json, rows, human)
