"""Step-by-step preview of a product over the current lakehouse data, for development.

The preview ends with the product as it would be written: the last step's sample through the
run-time contract check (`run/conform.py`: declared types cast, contract order), with the
contract's written types (`decimal(15,2)`, `date`), not the engine's internal ones.

A preview is a development run: what it consumed is measured, recorded in the catalog with
kind `development` (attributed to the product's domain), and turned into an estimate of what
the product costs per run (`cost/estimate.py`).

A preview reads the producers' data as a run does, so it is refused as a run is: the caller
gives the subscription check (`access/enforcement.py` `require_access`, with the catalog and
the approvals of its mesh root), and it runs before any input is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mesh_platform.access.scope import Scopes
from mesh_platform.column_types import from_arrow, unknown_columns_message
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.cost import CostEntry, CostRates, product_team, record_cost
from mesh_platform.cost.estimate import CostEstimate, estimate
from mesh_platform.engine import Engine, InputData, StepPreview, Usage, get_engine
from mesh_platform.engine.base import UsageMeter
from mesh_platform.errors import BusinessLogicError, MeshError
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.conform import conform
from mesh_platform.run.materialize import inputs_size
from mesh_platform.run.scope import scope_inputs
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ProductSpec
from mesh_platform.spec.workspace import Key

if TYPE_CHECKING:
    import polars as pl

AccessCheck = Callable[[ProductSpec], Scopes | None]


@dataclass(frozen=True)
class PreviewRun:
    """A preview's steps, what it consumed, and the product's estimated cost per run."""

    steps: list[StepPreview]
    usage: Usage
    estimate: CostEstimate
    warnings: tuple[str, ...] = ()
    written: StepPreview | None = None
    contract_error: str | None = None
    # Step name (and WRITTEN) -> column -> how its domain sees it masked (`access/masked_use`).
    masked: dict[str, dict[str, str]] = field(default_factory=dict)


WRITTEN = "as written"


def written_preview(
    last: StepPreview, plan: ProductPlan, product: str
) -> tuple[StepPreview | None, str | None]:
    """The last step's sample as the contract writes it, or the contract check's error.

    The schema names the contract's types: the declared type of a declared column, else the
    type the column is written with.
    """
    import polars as pl
    import pyarrow as pa

    if not last.sample.columns:  # `--limit 0`: no sample, the contract's schema only
        schema = {c.name: c.type for c in plan.columns} or dict(last.schema)
        return StepPreview(WRITTEN, "contract", schema, last.rows, last.sample), None
    try:
        table = conform(last.sample.to_arrow(), plan, product)
    except BusinessLogicError as exc:
        return None, str(exc)
    declared = {c.name: c.type for c in plan.columns if c.declared}
    schema = {f.name: declared.get(f.name) or from_arrow(f.type) for f in table.schema}
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame) and isinstance(table, pa.Table)
    return StepPreview(WRITTEN, "contract", schema, last.rows, frame), None


def preview_product(
    mesh: Mesh,
    name: str,
    lakehouse: Lakehouse,
    keys: Keyring,
    rows: int = 5,
    *,
    access: AccessCheck | None = None,
) -> list[StepPreview]:
    """Each step's schema, row count and first rows, reading the inputs' current tables.

    `access` (the subscription check) runs first: a cross-domain input without an approved
    subscription is refused (`SubscriptionRequired`) before anything is read.
    """
    spec = mesh.product(name).spec
    return preview_plan(spec, mesh.plans[spec.key], lakehouse, keys, rows, access=access)


def preview_plan(
    spec: ProductSpec,
    plan: ProductPlan,
    lakehouse: Lakehouse,
    keys: Keyring,
    rows: int = 5,
    *,
    access: AccessCheck | None = None,
    engine: Engine | None = None,
    dataset: Callable[[Key], InputData] | None = None,
) -> list[StepPreview]:
    """`preview_product` of a spec and its plan given in memory (the builder's unsaved draft,
    planned in place of its file). A warm process may pass its `engine` and a `dataset`
    reader (input datasets kept while their tables do not change)."""
    scopes = access(spec) if access is not None else None
    if spec.source is not None:
        table = lakehouse.landing(spec.source.landing).head(rows)
        import polars as pl

        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        schema = {n: str(t) for n, t in frame.schema.items()}
        return [StepPreview("landing", "source", schema, table.num_rows, frame)]
    inputs = preview_inputs(spec, plan, dataset or lakehouse.dataset, scopes)
    found = engine or get_engine(spec.engine, keys=keys)
    return found.preview(plan, inputs, rows)


def preview_inputs(
    spec: ProductSpec, plan: ProductPlan, read: Callable[[Key], InputData], scopes: Scopes | None
) -> dict[str, InputData]:
    """The inputs a preview reads: each input's current table, and for a scoped subscription
    the scope checked and only its columns read (as a run reads them)."""
    inputs = {port: read(ref) for port, ref in spec.input_refs().items()}
    return scope_inputs(spec, plan, inputs, scopes)


def costed_preview(
    mesh: Mesh,
    name: str,
    lakehouse: Lakehouse,
    keys: Keyring,
    catalog_url: str,
    rates: CostRates,
    rows: int = 5,
    *,
    access: AccessCheck | None = None,
) -> PreviewRun:
    """`preview_product` (refused by `access` first), measured, recorded as a development run,
    with a cost estimate."""
    spec = mesh.product(name).spec
    meter = UsageMeter()
    with meter.measure():
        steps = preview_product(mesh, name, lakehouse, keys, rows, access=access)
    rows_in, bytes_in = inputs_size(lakehouse, spec)
    usage = replace(meter.usage, rows_in=rows_in, bytes_in=bytes_in)
    entry = CostEntry(
        product=spec.qualified_name,
        domain=spec.domain,
        run_id=f"preview-{uuid.uuid4().hex}",
        kind="development",
        usage=usage,
        rates=rates,
        team=product_team(spec.owners),
    )
    warnings = [record_cost(catalog_url, entry)]
    found, warning = estimate(catalog_url, spec.qualified_name, usage, rates)
    warnings.append(warning)
    written, error = written_preview(steps[-1], mesh.plans[spec.key], spec.qualified_name)
    report = mesh.masked.get(spec.key)
    masked = report.by_step() if report is not None else {}
    if steps[-1].name in masked:
        masked[WRITTEN] = masked[steps[-1].name]
    warned = tuple(w for w in warnings if w)
    return PreviewRun(steps, usage, found, warned, written, error, masked)


def check_columns(mesh: Mesh, name: str, wanted: list[str]) -> None:
    """Refuse unknown `--columns` before running, when the plan knows every step's columns."""
    plan = mesh.plans.get(mesh.product(name).spec.key)
    if plan is None or not plan.steps or any(s.output is None for s in plan.steps):
        return  # known only once the steps ran (`choose_columns` checks then)
    outputs = [s.output or {} for s in plan.steps]
    known = list(dict.fromkeys([c for o in outputs for c in o] + [c.name for c in plan.columns]))
    message = unknown_columns_message(wanted, known, "--columns")
    if message is not None:
        raise MeshError(message)


def choose_columns(previews: list[StepPreview], wanted: list[str]) -> list[StepPreview]:
    """Each preview with only the `wanted` columns it has; MeshError naming unknown ones.

    A name is known when any step (or the written product) has it, so an intermediate
    column can be followed too.
    """
    known = list(dict.fromkeys(c for p in previews for c in p.schema))
    message = unknown_columns_message(wanted, known, "--columns")
    if message is not None:
        raise MeshError(message)
    chosen = []
    for preview in previews:
        names = [c for c in wanted if c in preview.schema]
        sample = preview.sample.select([c for c in names if c in preview.sample.columns])
        schema = {c: preview.schema[c] for c in names}
        chosen.append(replace(preview, schema=schema, sample=sample))
    return chosen


def render_sample(frame: pl.DataFrame, width: int) -> str:
    """A sample as a table when it fits `width` characters, else one record per row.

    Wide products (dozens of columns) are unreadable as a table squeezed into a terminal:
    polars would wrap every header. A record view (`column  value`, one line each, like
    psql's `\\x`) keeps every name and value readable.
    """
    import polars as pl

    with pl.Config(
        tbl_cols=-1,
        tbl_rows=-1,
        tbl_width_chars=65_535,  # polars keeps the width in 16 bits
        fmt_str_lengths=60,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        table = str(frame)
    if max((len(line) for line in table.splitlines()), default=0) <= width or not frame.width:
        return table
    name_width = max(len(c) for c in frame.columns)
    room = max(width - name_width - 2, 10)
    lines = []
    for number, row in enumerate(frame.iter_rows(named=True), start=1):
        lines.append(f"-- row {number} " + "-" * max(width - 12 - len(str(number)), 0))
        for column, value in row.items():
            text = "null" if value is None else str(value)
            text = text if len(text) <= room else text[: room - 1] + "…"
            lines.append(f"{column.ljust(name_width)}  {text}")
    return "\n".join(lines) if lines else "(no rows)"


def preview_failure(error: MeshError, source: ProductSource) -> str:
    """A failed preview, as a run reports its failure (`run/failures.py` `classify`): the
    product and class, the step, its spec line, who fixes it and how."""
    from mesh_platform.run.failures import FailureReport, classify, spec_location

    spec = source.spec
    found = classify(error, spec)
    file, line = spec_location(source, found.step or "")
    report = FailureReport(
        f"{spec.qualified_name} preview",
        found.failure_class,
        found.step or "",
        found.cause,
        found.guidance,
        run_id="",
        file=file,
        line=line,
    )
    # The run's block without its `run:` line: a preview is not a run.
    return "\n".join(report.render().splitlines()[:-1])
