"""Metadata on product definitions and materializations: schema, lineage, formulas, preview.

Anyone who can open the Dagster UI reads a materialization's metadata, so its sample rows are
shown as a reader of another domain without clearance sees them: each column the access policy
protects is masked by the policy's step, or left out when it is hidden or its mask cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.config.environment import catalog_web_url
from mesh_platform.engine import Usage
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    import pyarrow as pa

    from mesh_platform.access.policy import ColumnAccess
    from mesh_platform.engine import Engine

FORMULAS_KEY = "mesh/column_formulas"
CATALOG_PAGE_KEY = "mesh/catalog_page"
PREVIEW_KEY = "mesh/preview"
PREVIEW_MASKED_KEY = "mesh/preview_masked"
PREVIEW_ROWS = 5


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


def preview_markdown(table: pa.Table, rows: int = 5) -> str:
    """The first rows as a markdown table."""
    head = table.slice(0, rows).to_pylist()
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for row in head:
        lines.append("| " + " | ".join(str(row[n]).replace("|", "\\|") for n in names) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Sample:
    """The sample rows a materialization shows, and what was protected in them.

    `table` is None when the policy lets no reader without clearance read the product.
    `protected` maps each masked or left-out column to how, for people.
    """

    table: pa.Table | None
    protected: dict[str, str]
    because: str = ""

    def markdown(self) -> str:
        """The sample as markdown, after a line saying what was masked or left out."""
        if self.table is None:
            return f"_No sample rows: {self.because}._"
        if not self.protected:
            return preview_markdown(self.table)
        said = "; ".join(f"{column} {how}" for column, how in self.protected.items())
        return f"_As a reader without clearance sees it: {said}._\n\n" + preview_markdown(
            self.table
        )


def reader_sample(
    spec: ProductSpec,
    plan: ProductPlan,
    table: pa.Table,
    engine: Engine | None = None,
    rows: int = PREVIEW_ROWS,
) -> Sample:
    """The first `rows` rows as a reader of another domain without clearance sees them.

    Columns the access policy masks are computed through its masking step by `engine` (the
    product's when None); hidden ones, and masked ones whose step cannot run here (a keyed
    step without the keys), are left out.
    """
    from mesh_platform.access.policy import uncleared_view

    head = table.slice(0, rows)
    types = {c.name: c.type for c in plan.columns}
    tags = {c.name: c.tags for c in plan.columns if c.name in head.column_names}
    view = uncleared_view(spec.domain, tags, spec.tags, types)
    if not view.readable:
        return Sample(None, {}, view.because)
    protected = view.masked()
    if not protected:
        return Sample(head, {})
    masks = {c: a for c, a in protected.items() if a.action == "masked" and a.step is not None}
    left_out = {c: f"left out ({a.because})" for c, a in protected.items() if c not in masks}
    kept = head.drop_columns(list(left_out))
    try:
        shown = _masked(spec, kept, masks, types, engine)
    except Exception:  # no mask, no value: showing a sample never fails a run
        left_out |= {c: f"left out ({a.because}; its mask did not run)" for c, a in masks.items()}
        return Sample(kept.drop_columns(list(masks)), left_out)
    said = {c: f"masked ({a.step.use if a.step else ''}: {a.because})" for c, a in masks.items()}
    return Sample(shown, said | left_out)


def _masked(
    spec: ProductSpec,
    table: pa.Table,
    masks: dict[str, ColumnAccess],
    types: dict[str, str],
    engine: Engine | None,
) -> pa.Table:
    """`table` with the `masks` columns computed through their masking steps."""
    from mesh_platform.access.masking import input_mask
    from mesh_platform.access.policy import UNCLEARED, ProductAccess
    from mesh_platform.column_types import from_arrow
    from mesh_platform.engine import get_engine

    if not masks:
        return table
    schema = {f.name: types.get(f.name) or from_arrow(f.type) for f in table.schema}
    access = ProductAccess(UNCLEARED, True, tuple(masks.values()))
    mask = input_mask("sample", schema, access)
    assert mask is not None  # `masks` is not empty
    engine = engine or get_engine(spec.engine)
    return engine.query(f"SELECT {', '.join(mask.select)} FROM sample", {"sample": table})


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
