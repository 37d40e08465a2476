"""Security standard steps: encrypt, pseudonymize, mask, generalize, nullify many columns.

Each compiles to SQL over the previous step using the platform SQL functions (the registry's
catalogue), so
it runs vectorized in the engine, and lineage shows e.g. `pseudonymize(c_name)`, which is how
the `pii` tag becomes `pseudonymized` on the result.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mesh_platform.column_types import UNKNOWN, Schema, is_numeric, is_temporal, require_columns
from mesh_platform.registry import StandardStepDefinition

STEPS: list[StandardStepDefinition] = []


class _Columns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: tuple[str, ...] = Field(min_length=1, description="the columns to protect")


def _check(schema: Schema, params: _Columns, step: str) -> None:
    require_columns(params.columns, schema, f"standard step {step!r}")


def _select(schema: Schema, columns: tuple[str, ...], wrap: str) -> list[str]:
    """Every column of `schema`, the protected ones wrapped (`{c}` is the column)."""
    return [wrap.format(c=c) + f" AS {c}" if c in columns else c for c in schema]


def _as_string(step: str, wrap: str) -> tuple:  # type: ignore[type-arg]
    def schema_of(schema: Schema, params: _Columns) -> Schema:
        _check(schema, params, step)
        return {c: ("string" if c in params.columns else t) for c, t in schema.items()}

    def select(schema: Schema, params: _Columns) -> list[str]:
        return _select(schema, params.columns, wrap)

    return schema_of, select


def _register_simple(name: str, wrap: str, description: str, example: str) -> None:
    schema_of, select = _as_string(name, wrap)
    STEPS.append(
        StandardStepDefinition(
            name=name,
            version="1.0.0",
            description=description,
            params=_Columns,
            output_schema=schema_of,
            sql=select,
            example=example,
        )
    )


_register_simple(
    "encrypt",
    "encrypt_det({c})",
    "Deterministic encryption (AES-SIV) of columns under the current key: equal values stay "
    "equal (joins, group-bys); authorized code decrypts with `decrypt_det` / crypto.decrypt.",
    "- use: encrypt\n  with: {columns: [c_phone, c_address]}",
)
_register_simple(
    "pseudonymize",
    "pseudonymize({c})",
    "Replace values by keyed tokens (HMAC-SHA256, hex): stable across products, not reversible.",
    "- use: pseudonymize\n  with: {columns: [c_name]}",
)


class MaskParams(_Columns):
    """Mask text: `email` (j***@x.com), `phone` (last 4 kept) or `partial` (first `keep`)."""

    style: Literal["email", "phone", "partial"] = "partial"
    keep: int = Field(default=1, ge=0)


def _mask_wrap(params: MaskParams) -> str:
    if params.style == "email":
        return "mask_email({c})"
    if params.style == "phone":
        return "mask_phone({c})"
    return f"mask_partial({{c}}, {int(params.keep)})"


def _mask_schema(schema: Schema, params: MaskParams) -> Schema:
    _check(schema, params, "mask")
    return {c: ("string" if c in params.columns else t) for c, t in schema.items()}


STEPS.append(
    StandardStepDefinition(
        name="mask",
        version="1.0.0",
        description="Mask text columns: email, phone or partial (keep the first characters).",
        params=MaskParams,
        output_schema=_mask_schema,
        sql=lambda schema, p: _select(schema, p.columns, _mask_wrap(p)),
        example="- use: mask\n  with: {columns: [c_phone], style: phone}",
    )
)


class GeneralizeParams(_Columns):
    """Generalize: dates `to: month` (first day of month); numbers `to: bucket` of `width`."""

    to: Literal["month", "bucket"]
    width: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _width(self) -> GeneralizeParams:
        if self.to == "bucket" and self.width is None:
            raise ValueError("`to: bucket` needs `width:` (the bucket size, e.g. 1000)")
        return self


def _generalize_schema(schema: Schema, params: GeneralizeParams) -> Schema:
    _check(schema, params, "generalize")
    fits = is_temporal if params.to == "month" else is_numeric
    for c in params.columns:
        typ = schema[c]
        if typ != UNKNOWN and not fits(typ):
            raise ValueError(
                f"standard step 'generalize': column {c!r} is {typ}; `to: {params.to}` "
                f"needs {'a date' if params.to == 'month' else 'a number'} column"
            )
    new = "date" if params.to == "month" else "double"
    return {c: (new if c in params.columns else t) for c, t in schema.items()}


def _generalize_wrap(params: GeneralizeParams) -> str:
    if params.to == "month":
        return "generalize_month({c})"
    return f"generalize_number({{c}}, {params.width!r})"


STEPS.append(
    StandardStepDefinition(
        name="generalize",
        version="1.0.0",
        description="Generalize columns: dates to their month, numbers to their bucket's lower "
        "bound.",
        params=GeneralizeParams,
        output_schema=_generalize_schema,
        sql=lambda schema, p: _select(schema, p.columns, _generalize_wrap(p)),
        example="- use: generalize\n  with: {columns: [c_acctbal], to: bucket, width: 1000}",
    )
)


def _nullify_schema(schema: Schema, params: _Columns) -> Schema:
    _check(schema, params, "nullify")
    return dict(schema)


def _nullify_select(schema: Schema, params: _Columns) -> list[str]:
    def null_of(c: str) -> str:
        typ = schema[c]
        return "NULL" if typ == UNKNOWN else f"CAST(NULL AS {typ.upper()})"

    return [f"{null_of(c)} AS {c}" if c in params.columns else c for c in schema]


STEPS.append(
    StandardStepDefinition(
        name="nullify",
        version="1.0.0",
        description="Replace columns by NULL (keeps the column and its type, drops the data).",
        params=_Columns,
        output_schema=_nullify_schema,
        sql=_nullify_select,
        example="- use: nullify\n  with: {columns: [c_comment]}",
    )
)
