"""Commands for operators: status and quality history (they read the Dagster instance)."""

from __future__ import annotations

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


def _operations() -> tuple[Any, Any, Any]:
    """The mesh, the Dagster instance and the notifier (catalog) of this environment."""
    import dagster as dg

    from mesh_platform.dagster.resources import build_notifier

    prepare_environment()
    return loaded_mesh(), dg.DagsterInstance.get(), build_notifier()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Every product: last run, freshness, quality score, failing checks, open alerts; then the
    notifications that could not be delivered (given up, or failing and retried)."""
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment
    from mesh_platform.config.kept import kept_value
    from mesh_platform.marketplace.freshness import sync_digest
    from mesh_platform.ops.status import RunFacts, render, status_rows, undelivered

    prepare_environment()
    catalog = Catalog.open(environment.catalog_url())
    # What the specs and the instance say is kept while neither changed (nor the lake, nor
    # governance): then Dagster and the planner are not loaded. The rest is read now.
    digest = sync_digest(catalog, mesh_root(), environment.lake_root(), dagster_home())
    kept = kept_value("status", digest, _run_facts)
    for line in kept["warnings"]:
        click.echo(line, err=True)
    rows = status_rows([RunFacts(**fact) for fact in kept["facts"]], catalog)
    emit(as_json, [r.as_dict() for r in rows], render(rows, undelivered(catalog)))


def _run_facts() -> dict[str, Any]:
    """The specs' SLAs and the instance's last runs, after projecting the quality history
    (seconds: the mesh is loaded and Dagster imported); with the warnings of the load."""
    import dagster as dg

    from mesh_platform.cli.isolation import left_out_lines
    from mesh_platform.dagster.resources import build_notifier
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.ops.quality_history import project_checks
    from mesh_platform.ops.status import run_facts

    mesh = Mesh.load_healthy(mesh_root())
    with dg.DagsterInstance.get() as instance:
        project_checks(instance, build_notifier(), mesh, alert=False)
        facts = run_facts(mesh, instance)
    return {"facts": [f.as_dict() for f in facts], "warnings": left_out_lines(mesh)}


@main.command()
@click.argument("product")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def quality(product: str, as_json: bool) -> None:
    """PRODUCT's quality score and each rule's pass rate over time (domain.product)."""
    from dataclasses import asdict

    from mesh_platform.ops.quality_history import product_quality, project_checks

    mesh, instance, notifier = _operations()
    try:
        name = mesh.product(product).spec.qualified_name
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    project_checks(instance, notifier, mesh, alert=False)
    score, histories = product_quality(notifier.catalog(), name)
    lines = [f"{name}: quality score {score if score is not None else '- (no checks yet)'}"]
    for h in histories:
        lines.append(
            f"  {h.check_name:<32} pass rate {100 * h.pass_rate:5.1f}% over {h.evaluations} "
            f"run(s); last {'passed' if h.last_passed else 'FAILED'}"
        )
    emit(
        as_json,
        {"product": name, "score": score, "checks": [asdict(h) for h in histories]},
        "\n".join(lines),
    )
