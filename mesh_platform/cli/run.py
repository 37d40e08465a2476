"""Commands that run the mesh: generate sample data, materialize."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from mesh_platform.cli.app import emit, loaded_mesh, main, prepare_environment


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option("--force", is_flag=True, help="Regenerate even if data at this scale exists.")
def generate(scale: float, force: bool) -> None:
    """Generate the sample operational data (TPC-H) into the landing folder."""
    from mesh_platform.config.environment import landing_root
    from mesh_platform.dev.sample_data import generate as generate_data

    started = time.perf_counter()
    click.echo(f"generating TPC-H scale {scale} into {landing_root()} ...")
    written = generate_data(Path(landing_root()), scale, force)
    verb = "generated" if written else "already present"
    click.echo(f"{verb} in {time.perf_counter() - started:.1f}s")


def materialize_targets(target: str | None, as_json: bool, verbose: bool = False) -> list[Any]:
    import dagster as dg

    from mesh_platform.dagster.orchestration import materialize as run_all
    from mesh_platform.dagster.orchestration import select

    prepare_environment()
    mesh = loaded_mesh()
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
        mesh,
        keys,
        instance,
        on_run=progress,
        raise_on_failure=False,
        # Each failure is summarized below in one block; Dagster's own log (with its stack
        # traces) only when asked for.
        log_level="INFO" if verbose else "CRITICAL",
    )
    failed = [s for s in summaries if not s.success]
    # Only runs that succeeded count as materialized; a failed run is reported above.
    done = sum(len(s.products) for s in summaries if s.success)
    seconds = time.perf_counter() - started
    emit(
        as_json,
        {
            "products": total,
            "materialized": done,
            "seconds": round(seconds, 2),
            "failed_runs": [s.run_id for s in failed],
            "runs": [s.__dict__ for s in summaries],
        },
        f"materialized {done} of {total} products in {seconds:.1f}s"
        + (f"; {len(failed)} run(s) FAILED" if failed else ""),
    )
    if failed:
        sys.exit(1)
    return summaries


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--verbose", is_flag=True, help="Also print Dagster's log (with stack traces).")
def materialize(target: str | None, as_json: bool, verbose: bool) -> None:
    """Materialize everything, one DOMAIN, or one DOMAIN.PRODUCT (upstream first)."""
    materialize_targets(target, as_json, verbose)
