"""The access policy's mask: `redact`, a fixed-length mask cheap enough for every read.

`mask_redact(value, keep)` keeps the first `keep` characters and appends `***`: `Customer#42`
reads `C***`. Unlike `mask_partial`, which keeps the value's length (one star per hidden
character), it hides the length too, and it costs about a sixth as much per value on the local
engine (no per-row repeat), which matters since the policy masks on every read
(docs/access.md, "Cost of masking on read"). It is defined by a Spark SQL body, so every engine
builds it from the same text, and it protects: its result is tagged `masked`, not `pii`, when
it keeps at most 4 characters (`MASK_KEEP_AT_MOST`; `keep: 100` keeps `pii`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mesh_platform.column_types import Schema, require_columns
from mesh_platform.registry import Registry, SqlFunction, StandardStepDefinition

SUFFIX = "***"
REDACT_FUNCTION = SqlFunction(
    "mask_redact",
    "mask_redact(value, keep) -> string",
    f"Keep the first `keep` characters and append '{SUFFIX}' (the length is hidden too); NULL "
    "stays NULL.",
    "SELECT mask_redact(c_name, 1) AS c_name FROM customer",
    "masked",
    params=("value", "keep"),
    body=f"concat(left(CAST(value AS STRING), keep), '{SUFFIX}')",
    keep_arg=1,  # clears `pii` only with a literal `keep` within the registry's bound (4)
)


class RedactParams(BaseModel):
    """The columns to redact and how many leading characters to keep."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: tuple[str, ...] = Field(min_length=1, description="the columns to protect")
    keep: int = Field(default=1, ge=0, description="leading characters kept")


def _schema(schema: Schema, params: RedactParams) -> Schema:
    require_columns(params.columns, schema, "standard step 'redact'")
    return {c: ("string" if c in params.columns else t) for c, t in schema.items()}


def _select(schema: Schema, params: RedactParams) -> list[str]:
    return [
        f"mask_redact({c}, {int(params.keep)}) AS {c}" if c in params.columns else c for c in schema
    ]


REDACT_STEP = StandardStepDefinition(
    name="redact",
    version="1.0.0",
    description=f"Redact text columns: keep the first `keep` characters, then '{SUFFIX}' (hides "
    "the length too). The access policy's mask on read.",
    params=RedactParams,
    output_schema=_schema,
    sql=_select,
    example="- use: redact\n  with: {columns: [c_name], keep: 1}",
)


def register(registry: Registry) -> None:
    """Publish `mask_redact` and the `redact` step."""
    registry.functions.register(REDACT_FUNCTION)
    registry.steps.register(REDACT_STEP)
