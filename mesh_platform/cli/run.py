"""Commands that run the mesh: generate sample data, materialize."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mesh_platform.cli.app import emit, main, prepare_environment
from mesh_platform.cli.isolation import healthy_mesh

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.workspace import Key

SKIPPED_IN_RUN = "an input failed in this run"


@main.command()
@click.option("--scale", default=0.01, show_default=True, type=float, help="TPC-H scale factor.")
@click.option("--force", is_flag=True, help="Regenerate even if data at this scale exists.")
@click.option(
    "--day",
    "days",
    count=True,
    help="Add a day of new orders (about 1%) and their lineitems to the landing folders "
    "orders/ and lineitem/, one dated file each (repeat for more days: --day --day).",
)
def generate(scale: float, force: bool, days: int) -> None:
    """Generate the sample operational data (TPC-H) into the landing folder."""
    from mesh_platform.config.environment import landing_root
    from mesh_platform.dev.sample_data import generate as generate_data
    from mesh_platform.dev.sample_day import add_day

    started = time.perf_counter()
    if not days or force:
        click.echo(f"generating TPC-H scale {scale} into {landing_root()} ...")
        written = generate_data(Path(landing_root()), scale, force)
        verb = "generated" if written else "already present"
        click.echo(f"{verb} in {time.perf_counter() - started:.1f}s")
    for _ in range(days):
        added = add_day(Path(landing_root()))
        click.echo(
            f"added {added.day}: {added.orders} orders, {added.lineitems} lineitems "
            f"({', '.join(str(p) for p in added.files)})"
        )
    if days:
        click.echo(
            "process them with `mesh materialize`: the bronze products read only the new files, "
            "the incremental products only the new rows (docs/incremental.md)"
        )


class _Progress:
    """What the runs of one `materialize` have done so far, printed as each run or skip is
    reported (nothing in JSON mode: the summary says it all)."""

    def __init__(self, total: int, as_json: bool, ui: str) -> None:
        self.total = total
        self.as_json = as_json
        self.ui = ui
        self.done = 0
        self.skipped: list[tuple[str, str]] = []

    def on_run(self, summary: Any) -> None:
        """Count one finished run; print its line, its failures, skips and held products."""
        self.done += len(summary.products)
        self.skipped.extend((f"{summary.domain}.{p}", SKIPPED_IN_RUN) for p in summary.skipped)
        if self.as_json:
            return
        status = "ok" if summary.success else "FAILED"
        parts = f" partitions {summary.partitions}" if summary.partitions else ""
        click.echo(
            f"[{self.done}/{self.total}] {summary.domain}: {', '.join(summary.products)}{parts} "
            f"-> {status} in {summary.seconds:.1f}s (run {summary.run_id[:8]})"
        )
        for failure in summary.failures:
            click.echo(failure.render(f"{self.ui}/runs/{summary.run_id}"), err=True)
        if summary.skipped:
            names = ", ".join(f"{summary.domain}.{p}" for p in summary.skipped)
            click.echo(f"  skipped ({SKIPPED_IN_RUN}): {names}", err=True)
        for name in summary.held:
            product = f"{summary.domain}.{name}"
            click.echo(f"  held (rolled back; `mesh release {product}` lifts it): {product}")

    def on_skip(self, key: Key, reason: str) -> None:
        """Count one product that could not run, and print why."""
        self.done += 1
        self.skipped.append((".".join(key), reason))
        if not self.as_json:
            click.echo(f"[{self.done}/{self.total}] {'.'.join(key)} -> not run: {reason}", err=True)


def _with_missing_upstream(
    mesh: Mesh, targets: str | Sequence[str] | None, as_json: bool
) -> tuple[list[Key], list[Key]]:
    """The products `targets` select plus their upstream products with no table yet, in the
    mesh's order, and those upstream products alone (announced when there are any)."""
    from mesh_platform.config import environment
    from mesh_platform.dagster.orchestration import missing_upstream, select
    from mesh_platform.lake.lakehouse import Lakehouse

    keys = select(mesh, targets)
    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    upstream = missing_upstream(mesh, keys, lakehouse.exists) if targets else []
    if upstream:
        names = ", ".join(".".join(k) for k in upstream)
        click.echo(f"also materializing upstream: {names} (no table yet)", err=as_json)
    return [k for k in mesh.order if k in {*keys, *upstream}], upstream


def _report_materialized(
    as_json: bool,
    summaries: list[Any],
    progress: _Progress,
    upstream: list[Key],
    seconds: float,
) -> int:
    """Print the summary of the runs (JSON or one line); return how many products were not
    written (failed or not run; a held product is neither)."""
    total, ui = progress.total, progress.ui
    failures = [f for s in summaries for f in s.failures]
    written = sum(len(s.materialized) for s in summaries)
    held = [f"{s.domain}.{p}" for s in summaries for p in s.held]
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
            "not_run": [{"product": p, "reason": r} for p, r in progress.skipped],
            "failed_runs": [s.run_id for s in summaries if not s.success],
            "runs": [{k: v for k, v in s.__dict__.items() if k != "failures"} for s in summaries],
        },
        f"materialized {written} of {total} products in {seconds:.1f}s"
        + (f"; {len(held)} held" if held else "")
        + (f"; {len(failures)} failed" if failures else "")
        + (f"; {not_written - len(failures)} not run" if not_written > len(failures) else ""),
    )
    return not_written


def materialize_targets(
    targets: str | Sequence[str] | None,
    as_json: bool,
    verbose: bool = False,
    full_refresh: bool = False,
) -> list[Any]:
    """Materialize what `targets` name (None: everything), missing upstream products first;
    `full_refresh`: incremental products rebuilt from scratch.

    Prints progress, one block per failure and a summary counting what was written; exits 1
    when anything failed or could not run. Returns the Dagster runs' summaries.
    """
    import dagster as dg

    from mesh_platform.config import environment
    from mesh_platform.dagster.orchestration import materialize_selection as run_all
    from mesh_platform.run.incremental import FULL_REFRESH_TAG

    prepare_environment()
    mesh = healthy_mesh()
    keys, upstream = _with_missing_upstream(mesh, targets, as_json)
    progress = _Progress(len(keys), as_json, environment.ui_base_url().rstrip("/"))
    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    summaries = run_all(
        mesh,
        keys,
        instance,
        on_run=progress.on_run,
        raise_on_failure=False,
        # Each failure is reported in one block; Dagster's own log (with its stack traces)
        # only when asked for.
        log_level="INFO" if verbose else "CRITICAL",
        on_skip=progress.on_skip,
        run_tags={FULL_REFRESH_TAG: "true"} if full_refresh else None,
    )
    seconds = time.perf_counter() - started
    if _report_materialized(as_json, summaries, progress, upstream, seconds):
        sys.exit(1)
    return summaries


@main.command()
@click.argument("targets", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--verbose", is_flag=True, help="Also print Dagster's log (with stack traces).")
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild incremental products from scratch (all their input rows, the table replaced; "
    "an scd2 product's history restarts). The run tag `mesh/full_refresh: true` in the UI.",
)
def materialize(targets: tuple[str, ...], as_json: bool, verbose: bool, full_refresh: bool) -> None:
    """Materialize TARGETS: nothing for everything, DOMAIN, DOMAIN.PRODUCT or a Dagster asset
    selection (e.g. 'key:"sales/*"', '+key:"sales/customer_revenue"', 'tag:visibility=published',
    'owner:"team:sales-analytics"', 'group:finance'); inputs that have no table yet are built first.
    An incremental product processes only its new input rows (docs/incremental.md).
    """
    materialize_targets(targets or None, as_json, verbose, full_refresh)
