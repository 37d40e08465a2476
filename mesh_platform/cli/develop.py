"""Commands for developing a product before it runs: preview it, run its example tests."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from mesh_platform.cli.app import main, prepare_environment
from mesh_platform.cli.isolation import healthy_mesh

if TYPE_CHECKING:
    from mesh_platform.dev.preview import AccessCheck, PreviewRun
    from mesh_platform.dev.product_tests import CaseResult
    from mesh_platform.engine.base import StepPreview
    from mesh_platform.errors import SpecError
    from mesh_platform.loader.mesh import Mesh


@main.command()
@click.argument("product")
@click.option(
    "--limit",
    "--rows",
    "limit",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Sample rows shown per step (`--rows` is the same).",
)
@click.option(
    "--columns",
    "columns",
    default=None,
    metavar="A,B",
    help="Show only these columns (of the product or of any step).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def preview(product: str, limit: int, columns: str | None, as_json: bool) -> None:
    """Show PRODUCT (domain.product) step by step, then as it would be written.

    After each step: its schema, row count and a sample. Last, the product as written: the
    contract applied (declared types cast, contract order) with the contract's types. A table
    wider than the terminal is shown one record per row. Like a run, it reads another domain's
    product only with an approved subscription, and is refused before reading anything.
    """
    from mesh_platform.dev.preview import choose_columns

    prepare_environment()
    wanted = [c.strip() for c in (columns or "").split(",") if c.strip()]
    run = _costed_run(product, wanted, limit)
    shown = [*run.steps, *([run.written] if run.written else [])]
    if wanted:
        shown = choose_columns(shown, wanted)
    steps, written = (shown[:-1], shown[-1]) if run.written else (shown, None)
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    domain = product.partition(".")[0]
    if as_json:
        _echo_preview_json(run, steps, written)
    else:
        _echo_preview_text(run, steps, written, domain)
    if run.contract_error:
        raise click.ClickException(
            f"as written: the contract check fails on the sample: {run.contract_error}"
        )


def _costed_run(product: str, wanted: list[str], limit: int) -> PreviewRun:
    """The preview run of `product` on this environment's lake, with its cost; the `wanted`
    columns checked first (when the plan knows them). A ClickException for an unknown product.
    """
    from mesh_platform.config import environment
    from mesh_platform.cost import CostRates
    from mesh_platform.dev.preview import check_columns, costed_preview, preview_failure
    from mesh_platform.errors import EngineFailure, StepFailed
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.security.keys import build_keyring

    lakehouse = Lakehouse(root=environment.lake_root(), landing_root=environment.landing_root())
    mesh = healthy_mesh()
    try:
        if wanted:
            check_columns(mesh, product, wanted)  # before paying for a run, when the plan can
        return costed_preview(
            mesh,
            product,
            lakehouse,
            build_keyring(),
            environment.catalog_url(),
            CostRates.from_environment(),
            limit,
            access=_subscription_check(mesh),
        )
    except KeyError as exc:  # an unknown or left-out product; MeshErrors: `MeshGroup`
        raise click.ClickException(str(exc.args[0])) from None
    except (StepFailed, EngineFailure) as exc:  # reported as a run reports it
        click.echo(preview_failure(exc, mesh.product(product)), err=True)
        sys.exit(1)


def _subscription_check(mesh: Mesh) -> AccessCheck:
    """A run's subscription check, for a preview: `require_access` against the configured
    catalog (opened only for a product reading across domains), applying the approvals file of
    the mesh's root once before refusing."""
    import functools

    from mesh_platform.access.enforcement import require_access
    from mesh_platform.access.seeding import apply_approvals_file
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    return functools.partial(
        require_access,
        catalog=lambda: Catalog.open(environment.catalog_url()),
        approvals=functools.partial(apply_approvals_file, root=mesh.root),
    )


def _echo_preview_json(
    run: PreviewRun, steps: list[StepPreview], written: StepPreview | None
) -> None:
    """The steps as JSON on stdout (the last carries the product as written); the cost
    estimate on stderr."""
    entries = [_json_step(s, run.masked) for s in steps]
    if entries:  # the last step's entry carries the product as written
        entries[-1]["as_written"] = _json_step(written, run.masked) if written else None
        entries[-1]["contract_error"] = run.contract_error
    click.echo(json.dumps(entries, indent=2, default=str))
    click.echo(run.estimate.describe(), err=True)  # stdout stays the JSON document


def _echo_preview_text(
    run: PreviewRun, steps: list[StepPreview], written: StepPreview | None, domain: str
) -> None:
    """Each step (name, rows, schema, sample at the terminal's width, the columns masked for
    the domain), the product as written, then the cost estimate."""
    import shutil

    from mesh_platform.dev.preview import render_sample

    width = shutil.get_terminal_size().columns
    for s in steps:
        click.echo(f"== step {s.name} ({s.kind}): {s.rows} rows")
        click.echo("   " + ", ".join(f"{k}: {v}" for k, v in s.schema.items()))
        click.echo(render_sample(s.sample, width))
        _echo_masked(run, s, domain)
    if written is not None:
        click.echo(f"== as written (contract applied): {written.rows} rows")
        click.echo("   " + ", ".join(f"{k}: {v}" for k, v in written.schema.items()))
        click.echo(render_sample(written.sample, width))
        _echo_masked(run, written, domain)
    click.echo(run.estimate.describe())


def _masked_of(step: StepPreview, masked: dict[str, dict[str, str]]) -> dict[str, str]:
    """The columns of `step` its domain reads masked (or computed from masked values)."""
    found = masked.get(step.name, {})
    return {c: found[c] for c in step.schema if c in found}


def _echo_masked(run: PreviewRun, step: StepPreview, domain: str) -> None:
    """`masked for <domain>: c_name (redact: tag 'pii': ...), ...` under a step's table."""
    found = _masked_of(step, run.masked)
    if found:
        shown = ", ".join(f"{column} ({how})" for column, how in found.items())
        click.echo(f"masked for {domain}: {shown}")


def _json_step(step: StepPreview, masked: dict[str, dict[str, str]]) -> dict[str, object]:
    return {
        "step": step.name,
        "kind": step.kind,
        "rows": step.rows,
        "schema": step.schema,
        "sample": step.sample.to_dicts(),
        "masked": _masked_of(step, masked),
    }


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(target: str | None, as_json: bool) -> None:
    """Run the example-based product tests (all, a DOMAIN, or a DOMAIN.PRODUCT).

    A test file or case that names an unknown port or column, or a value of the wrong type,
    is reported with its file and line; a placeholder case fails as "not written yet".
    """
    from mesh_platform.dev.product_tests import record_development

    mesh = healthy_mesh()
    results, broken = _run_product_tests(mesh, target)
    for result in results:
        record_development(result, mesh)
    failed = [r for r in results if not r.passed]
    if as_json:
        _echo_tests_json(results, broken)
    else:
        _echo_tests_text(results, broken, failed)
    if not results and not broken:
        raise click.ClickException(f"no product tests found for {target or 'the mesh'}")
    if failed or broken:
        sys.exit(1)


def _run_product_tests(mesh: Mesh, target: str | None) -> tuple[list[CaseResult], list[SpecError]]:
    """Run the cases of every test file `target` selects; the results, and the files that do
    not load (their cases do not run)."""
    from mesh_platform.dev.product_tests import discover, load_cases, run_case
    from mesh_platform.errors import SpecError

    results: list[CaseResult] = []
    broken: list[SpecError] = []
    for path in discover(mesh, target):
        try:
            cases = load_cases(path, mesh)
        except SpecError as exc:
            broken.append(exc)
            continue
        results.extend(run_case(case, mesh) for case in cases)
    return results, broken


def _echo_tests_json(results: list[CaseResult], broken: list[SpecError]) -> None:
    """The cases' outcomes and the invalid test files, as one JSON document."""
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


def _echo_tests_text(
    results: list[CaseResult], broken: list[SpecError], failed: list[CaseResult]
) -> None:
    """One line per case (with its diff), one per invalid test file, then the counts."""
    labels = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "todo": "TODO"}
    for r in results:
        click.echo(f"{labels[r.outcome]} {r.case.product}: {r.case.name}")
        if r.diff:
            click.echo(r.diff)
    for error in broken:
        click.echo(f"ERROR {error}")
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    click.echo(summary + (f", {len(broken)} test file(s) invalid" if broken else ""))
