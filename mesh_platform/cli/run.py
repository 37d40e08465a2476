"""Commands that run the mesh: generate sample data, materialize."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mesh_platform.cli.app import emit, main, prepare_environment
from mesh_platform.cli.isolation import healthy_mesh

SKIPPED_IN_RUN = "an input failed in this run"


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


def materialize_targets(
    targets: str | Sequence[str] | None, as_json: bool, verbose: bool = False
) -> list[Any]:
    """Materialize what `targets` name (None: everything), missing upstream products first.

    Prints progress, one block per failure and a summary counting what was written; exits 1
    when anything failed or could not run. Returns the Dagster runs' summaries.
    """
    import dagster as dg

    from mesh_platform.config import environment
    from mesh_platform.dagster.orchestration import materialize_selection as run_all
    from mesh_platform.dagster.orchestration import missing_upstream, select
    from mesh_platform.lake.lakehouse import Lakehouse

    prepare_environment()
    mesh = healthy_mesh()
    keys = select(mesh, targets)
    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    upstream = missing_upstream(mesh, keys, lakehouse.exists) if targets else []
    if upstream:
        names = ", ".join(".".join(k) for k in upstream)
        click.echo(f"also materializing upstream: {names} (no table yet)", err=as_json)
    keys = [k for k in mesh.order if k in {*keys, *upstream}]
    total = len(keys)
    done = 0
    skipped: list[tuple[str, str]] = []
    ui = environment.ui_base_url().rstrip("/")

    def progress(summary: Any) -> None:
        nonlocal done
        done += len(summary.products)
        skipped.extend((f"{summary.domain}.{p}", SKIPPED_IN_RUN) for p in summary.skipped)
        if as_json:
            return
        status = "ok" if summary.success else "FAILED"
        parts = f" partitions {summary.partitions}" if summary.partitions else ""
        click.echo(
            f"[{done}/{total}] {summary.domain}: {', '.join(summary.products)}{parts} "
            f"-> {status} in {summary.seconds:.1f}s (run {summary.run_id[:8]})"
        )
        for failure in summary.failures:
            click.echo(failure.render(f"{ui}/runs/{summary.run_id}"), err=True)
        if summary.skipped:
            names = ", ".join(f"{summary.domain}.{p}" for p in summary.skipped)
            click.echo(f"  skipped ({SKIPPED_IN_RUN}): {names}", err=True)
        for name in summary.held:
            product = f"{summary.domain}.{name}"
            click.echo(f"  held (rolled back; `mesh release {product}` lifts it): {product}")

    def skip(key: tuple[str, str], reason: str) -> None:
        nonlocal done
        done += 1
        skipped.append((".".join(key), reason))
        if not as_json:
            click.echo(f"[{done}/{total}] {'.'.join(key)} -> not run: {reason}", err=True)

    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    summaries = run_all(
        mesh,
        keys,
        instance,
        on_run=progress,
        raise_on_failure=False,
        # Each failure is reported in one block; Dagster's own log (with its stack traces)
        # only when asked for.
        log_level="INFO" if verbose else "CRITICAL",
        on_skip=skip,
    )
    failures = [f for s in summaries for f in s.failures]
    written = sum(len(s.materialized) for s in summaries)
    held = [f"{s.domain}.{p}" for s in summaries for p in s.held]
    seconds = time.perf_counter() - started
    # A held product is left as its owner rolled it back, on purpose: not a failure.
    not_written = total - written - len(held)
    emit(
        as_json,
        {
            "products": total,
            "materialized": written,
            "seconds": round(seconds, 2),
            "upstream_added": [".".join(k) for k in upstream],
            "held": held,
            "failures": [{**f.as_dict(), "run_url": f"{ui}/runs/{f.run_id}"} for f in failures],
            "not_run": [{"product": p, "reason": r} for p, r in skipped],
            "failed_runs": [s.run_id for s in summaries if not s.success],
            "runs": [{k: v for k, v in s.__dict__.items() if k != "failures"} for s in summaries],
        },
        f"materialized {written} of {total} products in {seconds:.1f}s"
        + (f"; {len(held)} held" if held else "")
        + (f"; {len(failures)} failed" if failures else "")
        + (f"; {not_written - len(failures)} not run" if not_written > len(failures) else ""),
    )
    if not_written:
        sys.exit(1)
    return summaries


@main.command()
@click.argument("targets", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--verbose", is_flag=True, help="Also print Dagster's log (with stack traces).")
def materialize(targets: tuple[str, ...], as_json: bool, verbose: bool) -> None:
    """Materialize TARGETS: nothing for everything, DOMAIN, DOMAIN.PRODUCT or a Dagster asset
    selection (e.g. 'key:"sales/*"', '+key:"sales/customer_revenue"', 'tag:visibility=published',
    'owner:"team:sales-analytics"', 'group:finance'); inputs that have no table yet are built first.
    """
    materialize_targets(targets or None, as_json, verbose)
