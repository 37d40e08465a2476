"""Commands for developing a product before it runs: preview it, run its example tests."""

from __future__ import annotations

import json
import sys

import click

from mesh_platform.cli.app import loaded_mesh, main, prepare_environment
from mesh_platform.errors import MeshError


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
            loaded_mesh(),
            product,
            lakehouse,
            build_keyring(),
            environment.catalog_url(),
            CostRates.from_environment(),
            rows,
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
    """Run the example-based product tests (all, a DOMAIN, or a DOMAIN.PRODUCT).

    A test file or case that names an unknown port or column, or a value of the wrong type,
    is reported with its file and line; a placeholder case fails as "not written yet".
    """
    from mesh_platform.dev.product_tests import (
        CaseResult,
        discover,
        load_cases,
        record_development,
        run_case,
    )
    from mesh_platform.errors import SpecError

    mesh = loaded_mesh()
    results: list[CaseResult] = []
    broken: list[SpecError] = []
    for path in discover(mesh, target):
        try:
            cases = load_cases(path, mesh)
        except SpecError as exc:
            broken.append(exc)
            continue
        results.extend(run_case(case, mesh) for case in cases)
    for result in results:
        record_development(result, mesh)
    failed = [r for r in results if not r.passed]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "cases": [
                        {
                            "product": r.case.product,
                            "case": r.case.name,
                            "passed": r.passed,
                            "outcome": r.outcome,
                            "diff": r.diff,
                        }
                        for r in results
                    ],
                    "file_errors": [
                        {"file": str(e.file), "line": e.line, "error": e.problem, "fix": e.fix}
                        for e in broken
                    ],
                },
                indent=2,
            )
        )
    else:
        labels = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "todo": "TODO"}
        for r in results:
            click.echo(f"{labels[r.outcome]} {r.case.product}: {r.case.name}")
            if r.diff:
                click.echo(r.diff)
        for error in broken:
            click.echo(f"ERROR {error}")
        summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
        click.echo(summary + (f", {len(broken)} test file(s) invalid" if broken else ""))
    if not results and not broken:
        raise click.ClickException(f"no product tests found for {target or 'the mesh'}")
    if failed or broken:
        sys.exit(1)
