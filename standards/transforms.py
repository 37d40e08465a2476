"""General-purpose standard steps: deduplicate, rename, trim strings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mesh_platform.column_types import Schema, require_columns
from mesh_platform.registry import StandardStepDefinition

if TYPE_CHECKING:
    import polars as pl


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeduplicateParams(_Params):
    """Keep one row per key (the first seen); all columns when no key is given."""

    keys: tuple[str, ...] = ()


def _deduplicate(frame: pl.LazyFrame, params: DeduplicateParams) -> pl.LazyFrame:
    return frame.unique(subset=list(params.keys) or None, keep="first", maintain_order=True)


def _require_columns(schema: Schema, columns: tuple[str, ...], step: str) -> None:
    require_columns(columns, schema, f"standard step {step!r}")


def _dedup_schema(schema: Schema, params: DeduplicateParams) -> Schema:
    _require_columns(schema, params.keys, "deduplicate")
    return dict(schema)


deduplicate = StandardStepDefinition(
    name="deduplicate",
    version="1.0.0",
    description="Remove duplicate rows, keeping the first row for each key.",
    params=DeduplicateParams,
    apply=_deduplicate,
    output_schema=_dedup_schema,
    example="- use: deduplicate\n  with: {keys: [o_orderkey]}",
)


class RenameParams(_Params):
    """Rename columns: `{old_name: new_name}`."""

    columns: dict[str, str]


def _rename_schema(schema: Schema, params: RenameParams) -> Schema:
    _require_columns(schema, tuple(params.columns), "rename")
    return {params.columns.get(k, k): v for k, v in schema.items()}


def _rename_select(schema: Schema, params: RenameParams) -> list[str]:
    return [f"{c} AS {params.columns[c]}" if c in params.columns else c for c in schema]


# Runs as SQL, so column lineage (and the tags, `pii` included) follows the renamed values.
rename = StandardStepDefinition(
    name="rename",
    version="1.1.0",
    description="Rename columns.",
    params=RenameParams,
    sql=_rename_select,
    output_schema=_rename_schema,
    example="- use: rename\n  with: {columns: {c_name: customer_name}}",
)


class TrimParams(_Params):
    """Trim whitespace of these string columns (all string columns when none is given)."""

    columns: tuple[str, ...] = ()


def _trim(frame: pl.LazyFrame, params: TrimParams) -> pl.LazyFrame:
    import polars as pl

    schema = frame.collect_schema()
    names = params.columns or tuple(n for n, t in schema.items() if t == pl.String)
    return frame.with_columns(pl.col(n).str.strip_chars() for n in names)


def _trim_schema(schema: Schema, params: TrimParams) -> Schema:
    _require_columns(schema, params.columns, "trim")
    return dict(schema)


trim = StandardStepDefinition(
    name="trim",
    version="1.0.0",
    description="Trim leading and trailing whitespace from string columns.",
    params=TrimParams,
    apply=_trim,
    output_schema=_trim_schema,
    example="- use: trim\n  with: {columns: [c_name, c_address]}",
)

STEPS = (deduplicate, rename, trim)
