"""Reading another domain's product within the subscription's column scope (`access/scope.py`).

A run and a preview check, before reading any row, that the product's steps read no column
outside the scope of each scoped subscription (`ColumnOutOfScope` otherwise), then read such an
input through a projection: the scoped columns from storage, every other column as NULL of its
type (not read at all, so `SELECT *` or a Python step taking its inputs cannot get it; the
input keeps its schema, so the plan and the masking projection run unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_platform.access.scope import Scopes, columns_read, require_scope
from mesh_platform.column_types import from_arrow
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.spec.model import ProductSpec


def scoped_ports(spec: ProductSpec, scopes: Scopes | None) -> dict[str, frozenset[str]]:
    """The input ports read through a scoped subscription, with their approved columns."""
    if not scopes:
        return {}
    found = {}
    for port, ref in spec.input_refs().items():
        scope = scopes.get(".".join(ref))
        if scope is not None:
            found[port] = scope.columns
    return found


def check_scope(
    spec: ProductSpec, plan: ProductPlan, inputs: Mapping[str, Any], scopes: Scopes | None
) -> None:
    """Refuse (`ColumnOutOfScope`) a product whose steps read a column outside a scope; the
    inputs' schemas are read (their metadata), none of their rows."""
    if not scoped_ports(spec, scopes):
        return
    schemas = {
        port: {field.name: from_arrow(field.type) for field in data.schema}
        for port, data in inputs.items()
    }
    require_scope(spec, columns_read(spec, plan, schemas), scopes or {})


def scoped_read(data: Any, columns: frozenset[str]) -> Any:
    """`data` (an Arrow dataset or table) with only `columns` read; the others NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    projection = {
        field.name: pc.field(field.name)
        if field.name in columns
        else pc.scalar(pa.scalar(None, type=field.type))
        for field in data.schema
    }
    if isinstance(data, pa.Table):
        import pyarrow.dataset as pads

        data = pads.dataset(data)
    return data.to_table(columns=projection)


def scope_inputs(
    spec: ProductSpec, plan: ProductPlan, inputs: Mapping[str, Any], scopes: Scopes | None
) -> dict[str, Any]:
    """`inputs` checked against the scopes, each scoped one read within its scope."""
    check_scope(spec, plan, inputs, scopes)
    ports = scoped_ports(spec, scopes)
    return {
        port: scoped_read(data, ports[port]) if port in ports else data
        for port, data in inputs.items()
    }
