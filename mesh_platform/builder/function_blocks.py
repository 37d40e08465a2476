"""Function blocks: a registered SQL function applied to columns, as one SQL step.

The form (`function_model`) takes the columns to apply it to (each replaced by its result, or
one new column `as`) and the function's other arguments as literal values; `function_sql`
writes the step's Spark SQL through sqlglot (identifiers quoted, values as SQL literals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from sqlglot import exp

from mesh_platform.builder import transforms
from mesh_platform.builder.transforms import (
    MANY,
    NAME,
    NEW_NAME,
    BlockRefused,
    column,
    ident,
    table,
)
from mesh_platform.registry import SqlFunction, registry


def arguments(function: SqlFunction) -> list[str]:
    """The argument names of a function, from its `params` or its signature."""
    if function.params:
        return list(function.params)
    inside = function.signature.split("(", 1)[1].split(")", 1)[0]
    return [a.strip() for a in inside.split(",") if a.strip()]


def function_model(function: SqlFunction) -> type[BaseModel]:
    """The form of a function block: the columns it is applied to (each replaced by its
    result, or one new column `as`), and its other arguments as literal values."""
    first, *rest = arguments(function) or ["value"]
    fields: dict[str, Any] = {
        "columns": (
            list[str],
            Field(
                min_length=1, description=f"the columns to apply it to ({first})", **x_field(MANY)
            ),
        ),
        **{
            arg: (int | float | str, Field(description=f"the `{arg}` argument (a value)"))
            for arg in rest
        },
        "as_": (
            str | None,
            Field(
                default=None,
                alias="as",
                pattern=NAME,
                description="a new column's name for the result (one column); by default "
                "each column is replaced",
                **x_field(NEW_NAME),
            ),
        ),
    }
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{function.name.title().replace('_', '')}Call",
        __config__=ConfigDict(frozen=True, extra="forbid", populate_by_name=True),
        **fields,
    )


def x_field(extra: dict[str, Any]) -> dict[str, Any]:
    return {"json_schema_extra": extra}


def function_sql(name: str, params: Mapping[str, Any], previous: str, columns: list[str]) -> str:
    function = next((f for f in registry().functions.all() if f.name == name), None)
    if function is None:
        raise BlockRefused(f"unknown SQL function {name!r}")
    try:
        call = function_model(function).model_validate(dict(params))
    except ValidationError as exc:
        raise BlockRefused(f"bad parameters for {name}: {exc}") from None
    values = call.model_dump(by_alias=True)
    targets: list[str] = values["columns"]
    transforms.require_columns(targets, columns, name)
    new = values.get("as")
    if new is not None and len(targets) != 1:
        raise BlockRefused(f"{name}: `as` names one new column; apply it to one column")
    extra = [_literal(values[a]) for a in arguments(function)[1:]]

    def applied(c: str) -> exp.Expr:
        return exp.Anonymous(this=name, expressions=[column(c), *extra])

    picked: list[exp.Expr] = [
        applied(c).as_(ident(c)) if c in targets and new is None else column(c) for c in columns
    ]
    if new is not None:
        value = applied(targets[0]).as_(ident(new))
        picked = [value if c == new else p for c, p in zip(columns, picked, strict=True)]
        if new not in columns:
            picked.append(value)
    query = exp.select(*picked).from_(table(previous))
    return transforms.render(query)


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))
