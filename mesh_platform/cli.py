"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from mesh_platform.errors import MeshError, SpecErrors


def _mesh():
    from mesh_platform.mesh import Mesh

    try:
        return Mesh.load()
    except SpecErrors as exc:
        raise click.ClickException(f"the mesh has spec errors:\n{exc}") from None


def _emit(as_json: bool, data: Any, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


def _prepare_environment() -> None:
    """Point this process (and what it starts) at the mesh home and Dagster home."""
    from mesh_platform.environment import export_for_children

    os.environ.update(export_for_children())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Mesh: self-serve data products on Dagster.

    State lives in MESH_HOME (default: var/ in the checkout): landing files, the Delta lake
    and the Dagster instance (DAGSTER_HOME, default MESH_HOME/dagster_home).
    """
    import warnings

    # Beta/preview notices about Dagster APIs the platform chose are not the user's concern.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option("--force", is_flag=True, help="Regenerate even if data at this scale exists.")
def generate(scale: float, force: bool) -> None:
    """Generate the sample operational data (TPC-H) into the landing folder."""
    from mesh_platform.environment import landing_root
    from mesh_platform.sample_data import generate as generate_data

    started = time.perf_counter()
    click.echo(f"generating TPC-H scale {scale} into {landing_root()} ...")
    written = generate_data(Path(landing_root()), scale, force)
    verb = "generated" if written else "already present"
    click.echo(f"{verb} in {time.perf_counter() - started:.1f}s")


def _materialize(target: str | None, as_json: bool) -> list[Any]:
    import dagster as dg

    from mesh_platform.orchestration import materialize as run_all
    from mesh_platform.orchestration import select

    _prepare_environment()
    mesh = _mesh()
    try:
        keys = select(mesh, target)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    total = len(keys)
    done = 0

    def progress(summary: Any) -> None:
        nonlocal done
        done += len(summary.products)
        if not as_json:
            status = "ok" if summary.success else "FAILED"
            parts = f" partitions {summary.partitions}" if summary.partitions else ""
            click.echo(
                f"[{done}/{total}] {summary.domain}: {', '.join(summary.products)}{parts} "
                f"-> {status} in {summary.seconds:.1f}s (run {summary.run_id[:8]})"
            )
            if summary.error:
                click.echo(f"    {summary.error}", err=True)

    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    summaries = run_all(
        mesh, keys, instance, on_run=progress, raise_on_failure=False, log_level="ERROR"
    )
    failed = [s for s in summaries if not s.success]
    seconds = time.perf_counter() - started
    _emit(
        as_json,
        {
            "products": total,
            "seconds": round(seconds, 2),
            "failed_runs": [s.run_id for s in failed],
            "runs": [s.__dict__ for s in summaries],
        },
        f"materialized {total} products in {seconds:.1f}s"
        + (f"; {len(failed)} run(s) FAILED" if failed else ""),
    )
    if failed:
        sys.exit(1)
    return summaries


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def materialize(target: str | None, as_json: bool) -> None:
    """Materialize everything, one DOMAIN, or one DOMAIN.PRODUCT (upstream first)."""
    _materialize(target, as_json)


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option("--headless", is_flag=True, help="Materialize everything and exit (no UI).")
@click.option("--host", default="127.0.0.1", show_default=True, help="UI host.")
@click.option("--port", default=3000, show_default=True, type=int, help="UI port.")
@click.pass_context
def up(ctx: click.Context, scale: float, headless: bool, host: str, port: int) -> None:
    """Bring the mesh up: sample data, every product materialized, then the Dagster UI.

    The UI runs with the daemon (schedules, sensors, automation) on HOST:PORT until stopped
    with Ctrl-C. With --headless, stop after materializing (for scripts and CI).
    """
    _prepare_environment()
    started = time.perf_counter()
    ctx.invoke(generate, scale=scale, force=False)
    _materialize(None, False)
    click.echo(f"mesh up: data and products ready in {time.perf_counter() - started:.1f}s")
    if headless:
        return
    from mesh_platform.mesh import repo_root

    dagster = shutil.which("dagster") or str(Path(sys.executable).parent / "dagster")
    workspace = str(repo_root() / "workspace.yaml")
    click.echo(f"serving the Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    # dagster dev ignores SIGINT when started from a non-interactive shell; restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(repo_root())
    os.execvpe(
        dagster, [dagster, "dev", "-w", workspace, "-h", host, "-p", str(port)], os.environ.copy()
    )


@main.command(name="list")
@click.option("--domain", help="Only this domain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_products(domain: str | None, as_json: bool) -> None:
    """List the products: key, visibility, inputs and description."""
    mesh = _mesh()
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
    _emit(as_json, rows, human)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def validate(as_json: bool) -> None:
    """Check every spec (YAML, fields, inputs, cycles, SQL, contracts) without running."""
    from mesh_platform.mesh import Mesh

    try:
        mesh = Mesh.load()
    except SpecErrors as exc:
        errors = [
            {"file": str(e.file), "line": e.line, "problem": e.problem, "fix": e.fix}
            for e in exc.errors
        ]
        _emit(as_json, {"ok": False, "errors": errors}, f"{len(errors)} error(s):\n{exc}")
        sys.exit(1)
    _emit(
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
    from mesh_platform.scaffold import scaffold_product

    pairs = {}
    for item in inputs:
        port, sep, ref = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write PORT=PRODUCT", param_hint="--input")
        pairs[port.strip()] = ref.strip()
    try:
        paths = scaffold_product(_mesh(), domain, name, pairs)
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
    from mesh_platform.environment import build_resources
    from mesh_platform.preview import preview_product

    _prepare_environment()
    try:
        steps = preview_product(_mesh(), product, build_resources()["lakehouse"], rows)
    except (KeyError, MeshError) as exc:
        raise click.ClickException(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
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
        return
    for s in steps:
        click.echo(f"== step {s.name} ({s.kind}): {s.rows} rows")
        click.echo("   " + ", ".join(f"{k}: {v}" for k, v in s.schema.items()))
        click.echo(str(s.sample))


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(target: str | None, as_json: bool) -> None:
    """Run the example-based product tests (all, a DOMAIN, or a DOMAIN.PRODUCT)."""
    from mesh_platform.product_tests import discover, load_cases, run_case

    mesh = _mesh()
    results = [
        run_case(case, mesh) for path in discover(mesh, target) for case in load_cases(path, mesh)
    ]
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
    from standards.catalog import catalog, render

    rows = catalog()
    human = render(rows)
    _emit(as_json, rows, human)


def _operations() -> tuple[Any, Any, Any]:
    """The mesh, the Dagster instance and the notifier (catalog) of this environment."""
    import dagster as dg

    from mesh_platform.environment import build_notifier

    _prepare_environment()
    return _mesh(), dg.DagsterInstance.get(), build_notifier()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Every product: last run, freshness, quality score, failing checks, open alerts."""
    from mesh_platform.status import mesh_status, render

    mesh, instance, notifier = _operations()
    rows = mesh_status(mesh, instance, notifier)
    _emit(as_json, [r.as_dict() for r in rows], render(rows))


@main.command()
@click.argument("product")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def quality(product: str, as_json: bool) -> None:
    """PRODUCT's quality score and each rule's pass rate over time (domain.product)."""
    from dataclasses import asdict

    from mesh_platform.quality.history import product_quality, project_checks

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
    _emit(
        as_json,
        {"product": name, "score": score, "checks": [asdict(h) for h in histories]},
        "\n".join(lines),
    )
