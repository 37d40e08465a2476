"""Metadata on product definitions and materializations: schema, lineage, formulas, preview.

Anyone who can open the Dagster UI reads a materialization's metadata, so its sample rows are
shown as a reader of another domain without clearance sees them (`quality.samples`, which the
checks' failing samples go through too): each column the access policy protects is masked by
the policy's step, or left out when it is hidden or its mask cannot run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.config.environment import catalog_web_url
from mesh_platform.engine import Usage
from mesh_platform.quality.samples import PREVIEW_ROWS, Sample, preview_markdown, reader_sample
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    import pyarrow as pa

    from mesh_platform.engine import Engine

__all__ = ["PREVIEW_ROWS", "Sample", "preview_markdown", "reader_sample"]

FORMULAS_KEY = "mesh/column_formulas"
CATALOG_PAGE_KEY = "mesh/catalog_page"
PREVIEW_KEY = "mesh/preview"
PREVIEW_MASKED_KEY = "mesh/preview_masked"


def catalog_page_url(domain: str, product: str) -> str:
    """The product's page in the web catalog (`mesh up` serves it beside the UI)."""
    return f"{catalog_web_url()}/products/{domain}/{product}"


def column_schema(plan: ProductPlan) -> dg.TableSchema:
    """The contract as a Dagster table schema: types, descriptions (with formula) and tags."""
    columns = []
    for column in plan.columns:
        description = column.description
        if column.formula and column.formula != column.name:
            description = (
                f"{description} = {column.formula}" if description else f"= {column.formula}"
            )
        columns.append(
            dg.TableColumn(
                name=column.name,
                type=column.type,
                description=description or None,
                tags={tag: "" for tag in column.tags},
            )
        )
    return dg.TableSchema(columns=columns)


def column_lineage(spec: ProductSpec, plan: ProductPlan) -> dg.TableColumnLineage | None:
    """Per output column, the input products' columns it is computed from."""
    refs = spec.input_refs()
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for column in plan.columns:
        found = [
            dg.TableColumnDep(asset_key=dg.AssetKey(list(refs[port])), column_name=name)
            for port, name in column.sources
            if port in refs
        ]
        if found:
            deps[column.name] = found
    return dg.TableColumnLineage(deps_by_column=deps) if deps else None


def formulas_markdown(plan: ProductPlan) -> str:
    """Each column's meaning and formula as a table an analyst can read."""
    lines = ["| column | type | meaning | formula |", "| --- | --- | --- | --- |"]
    for c in plan.columns:
        formula = c.formula.replace("|", "\\|")
        lines.append(f"| {c.name} | {c.type} | {c.description} | `{formula}` |")
    return "\n".join(lines)


def definition_metadata(spec: ProductSpec, plan: ProductPlan) -> dict[str, Any]:
    """Metadata known at load: shown in the UI before the first run."""
    metadata: dict[str, Any] = {
        "dagster/column_schema": column_schema(plan),
        "dagster/table_name": f"{spec.domain}.{spec.name}",
        "mesh/version": spec.version,
        "mesh/visibility": spec.visibility,
        FORMULAS_KEY: dg.MetadataValue.md(formulas_markdown(plan)),
        CATALOG_PAGE_KEY: dg.MetadataValue.url(catalog_page_url(spec.domain, spec.name)),
    }
    lineage = column_lineage(spec, plan)
    if lineage is not None:
        metadata["dagster/column_lineage"] = lineage
    return metadata


def materialization_metadata(
    spec: ProductSpec,
    plan: ProductPlan,
    table: pa.Table,
    uri: str,
    version: int,
    seconds: float,
    usage: Usage | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Metadata recorded on every materialization.

    Not the catalog link: it is the definition's (where the catalog is served now), and one
    recorded here would go stale when the catalog moves to another port. The sample rows are
    `reader_sample`'s: what a reader without clearance sees (`engine` masks them).
    """
    sample = reader_sample(spec, plan, table, engine)
    metadata = definition_metadata(spec, plan)
    del metadata[CATALOG_PAGE_KEY]
    metadata.update(
        {
            "dagster/uri": dg.MetadataValue.path(uri),
            "dagster/row_count": table.num_rows,
            PREVIEW_KEY: dg.MetadataValue.md(sample.markdown()),
            "mesh/delta_version": version,
            "mesh/duration_seconds": round(seconds, 3),
        }
    )
    if sample.protected or sample.table is None:
        metadata[PREVIEW_MASKED_KEY] = dg.MetadataValue.json(
            sample.protected or {"*": f"no sample rows: {sample.because}"}
        )
    if usage is not None:
        metadata["mesh/engine_cpu_seconds"] = usage.cpu_seconds
        metadata["mesh/engine_seconds"] = usage.wall_seconds
    return metadata
