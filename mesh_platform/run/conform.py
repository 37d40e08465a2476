"""The product contract at run time: output columns and types must match the declared ones."""

from __future__ import annotations

import pyarrow as pa

from mesh_platform.column_types import UNKNOWN, arrow_family, arrow_type, from_arrow
from mesh_platform.compile.plan import ColumnPlan, ProductPlan
from mesh_platform.errors import BusinessLogicError


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
            target = pa.string() if arrow_family(array.type) == "string" else array.type
        if array.type != target:
            if arrow_family(array.type) != arrow_family(target):
                raise BusinessLogicError(
                    f"{product} breaks its contract: column {column.name!r} is "
                    f"{from_arrow(array.type)} but the contract says {column.type}; "
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
