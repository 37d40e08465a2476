"""Step-by-step preview of a product over the current lakehouse data, for development.

A preview is a development run: what it consumed is measured, recorded in the catalog with
kind `development` (attributed to the product's domain), and turned into an estimate of what
the product costs per run (`cost/estimate.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from mesh_platform.cost import CostEntry, CostRates, product_team, record_cost
from mesh_platform.cost.estimate import CostEstimate, estimate
from mesh_platform.engine import StepPreview, Usage, get_engine
from mesh_platform.engine.base import UsageMeter
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.materialize import stored_size
from mesh_platform.security.keys import Keyring


@dataclass(frozen=True)
class PreviewRun:
    """A preview's steps, what it consumed, and the product's estimated cost per run."""

    steps: list[StepPreview]
    usage: Usage
    estimate: CostEstimate
    warnings: tuple[str, ...] = ()


def preview_product(
    mesh: Mesh, name: str, lakehouse: Lakehouse, keys: Keyring, rows: int = 5
) -> list[StepPreview]:
    """Each step's schema, row count and first rows, reading the inputs' current tables."""
    source = mesh.product(name)
    spec = source.spec
    plan = mesh.plans[spec.key]
    if spec.source is not None:
        table = lakehouse.landing(spec.source.landing).head(rows)
        import polars as pl

        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        schema = {n: str(t) for n, t in frame.schema.items()}
        return [StepPreview("landing", "source", schema, table.num_rows, frame)]
    inputs = {port: lakehouse.dataset(ref) for port, ref in spec.input_refs().items()}
    return get_engine(spec.engine, keys=keys).preview(plan, inputs, rows)


def costed_preview(
    mesh: Mesh,
    name: str,
    lakehouse: Lakehouse,
    keys: Keyring,
    catalog_url: str,
    rates: CostRates,
    rows: int = 5,
) -> PreviewRun:
    """`preview_product`, measured, recorded as a development run, with a cost estimate."""
    spec = mesh.product(name).spec
    meter = UsageMeter()
    with meter.measure():
        steps = preview_product(mesh, name, lakehouse, keys, rows)
    sizes = [stored_size(lakehouse.dataset(ref)) for ref in spec.input_refs().values()]
    usage = replace(
        meter.usage, rows_in=sum(r for r, _ in sizes), bytes_in=sum(b for _, b in sizes)
    )
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
    return PreviewRun(steps, usage, found, tuple(w for w in warnings if w))
