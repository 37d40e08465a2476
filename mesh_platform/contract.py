"""The product contract at run time: output columns and types must match the declared ones."""

from __future__ import annotations

import re

import pyarrow as pa

from mesh_platform.errors import BusinessLogicError
from mesh_platform.plan import ColumnPlan, ProductPlan
from mesh_platform.sql import UNKNOWN

_SIMPLE = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def arrow_type(spec_type: str) -> pa.DataType | None:
    """The Arrow type of a contract type, None for `unknown`."""
    if spec_type in _SIMPLE:
        return _SIMPLE[spec_type]
    match = re.match(r"decimal\((\d+),\s*(\d+)\)", spec_type)
    if match:
        return pa.decimal128(int(match[1]), int(match[2]))
    return None


def spec_type_of(arrow: pa.DataType) -> str:
    """The contract type name of an Arrow type."""
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if (
        pa.types.is_string(arrow)
        or pa.types.is_large_string(arrow)
        or pa.types.is_string_view(arrow)
    ):
        return "string"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    for name, typ in _SIMPLE.items():
        if typ == arrow:
            return name
    return str(arrow)


def _family(arrow: pa.DataType) -> str:
    if pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return "number"
    if (
        pa.types.is_string(arrow)
        or pa.types.is_large_string(arrow)
        or pa.types.is_string_view(arrow)
    ):
        return "string"
    if pa.types.is_date(arrow) or pa.types.is_timestamp(arrow):
        return "time"
    return str(arrow)


def conform(table: pa.Table, plan: ProductPlan, product: str) -> pa.Table:
    """The result in contract order and types; numbers and times are cast within their family.

    Anything else (a missing or extra column, text where a number is declared) is the
    domain's logic breaking its contract, and fails the run before anything is written.
    """
    expected = [c.name for c in plan.columns]
    produced = table.column_names
    if expected and set(expected) != set(produced):
        missing = [c for c in expected if c not in produced]
        extra = [c for c in produced if c not in expected]
        raise BusinessLogicError(
            f"{product} breaks its contract: missing columns {missing or '-'}, "
            f"undeclared columns {extra or '-'}; change the last step or the `columns:` list"
        )
    arrays, fields = [], []
    for column in plan.columns or [_unknown(name) for name in produced]:
        array = table.column(column.name)
        # Only a declared type is a promise: inferred types keep what the engine produced.
        target = arrow_type(column.type) if column.declared else None
        if target is None:
            target = pa.string() if _family(array.type) == "string" else array.type
        if array.type != target:
            if _family(array.type) != _family(target):
                raise BusinessLogicError(
                    f"{product} breaks its contract: column {column.name!r} is "
                    f"{spec_type_of(array.type)} but the contract says {column.type}; "
                    "CAST it in the last step or correct the declared type"
                )
            try:
                array = array.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise BusinessLogicError(
                    f"{product}: column {column.name!r} does not fit its declared type "
                    f"{column.type} ({exc}); widen the declared type or round/CAST in the "
                    "last step"
                ) from None
        arrays.append(array)
        fields.append(pa.field(column.name, target))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _unknown(name: str) -> ColumnPlan:
    return ColumnPlan(name, UNKNOWN, "", (), (), name)
