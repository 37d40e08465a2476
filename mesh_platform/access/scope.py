"""A subscription's column scope: which columns of the producer's product a consumer may read.

`mesh subscribe ... --columns a,b` records the columns a consumer uses; once approved, they are
all it may read of the product (no columns: the whole product). Enforced twice:

- **at validate**: a consumer's step reading a column outside the scope is a `SpecError` at the
  input, naming the column, the subscription and the fix (`scope_errors`);
- **on read**: a run or preview checks the same before reading anything
  (`ColumnOutOfScope`), then reads only the scoped columns: the others are not selected from
  storage and read as NULL, so `SELECT *` or a Python step taking its inputs cannot get them
  (`run/scope.py`).

The columns a product reads of an input are found in its SQL steps as written, qualified
against the inputs' columns (`SELECT *` expanded); a Python step that takes the inputs, or a
step whose inputs' columns are not known, reads every column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import build_scope

from mesh_platform.column_types import Schema
from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.plan import ProductPlan, step_name
from mesh_platform.compile.sql import SqlProblem
from mesh_platform.errors import BusinessLogicError, SpecError
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ProductSpec, PythonStep, SqlStep

if TYPE_CHECKING:
    from mesh_platform.catalog.db import Catalog


@dataclass(frozen=True)
class ColumnScope:
    """The approved columns of one subscription."""

    consumer: str
    product: str  # domain.product
    subscription: int
    columns: frozenset[str]

    def fix(self, outside: Iterable[str]) -> str:
        """How the consumer asks for the scope with `outside` too."""
        wanted = ",".join(sorted(self.columns | set(outside)))
        return (
            f'mesh subscribe {self.product} --as {self.consumer} --purpose "..." '
            f"--columns {wanted} (a new round the producer or the platform team approves), or "
            "stop reading the column"
        )


Scopes = Mapping[str, ColumnScope]  # domain.product -> its approved scope (scoped ones only)


class ColumnOutOfScope(BusinessLogicError):
    """A product reads a column of another domain's product outside its subscription's scope."""

    def __init__(self, spec: ProductSpec, scope: ColumnScope, outside: list[str]) -> None:
        self.scope = scope
        self.outside = outside
        self.refused_fix = scope.fix(outside)  # the run's failure guidance (run/failures.py)
        super().__init__(
            f"{scope.consumer} may not read {_columns(outside)} of {scope.product}: "
            f"{spec.qualified_name} reads {_them(outside)}, outside subscription "
            f"{scope.subscription}'s approved columns ({', '.join(sorted(scope.columns))}); "
            f"nothing was read.\n  fix: {scope.fix(outside)}"
        )


def _columns(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(names)


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


def columns_read(
    spec: ProductSpec, plan: ProductPlan, schemas: Mapping[str, Schema]
) -> dict[str, frozenset[str]]:
    """The columns of each input port (its `schemas`) that the product's steps read."""
    from mesh_platform.access.readonly import takes_inputs

    ports = set(spec.input_refs())
    used: dict[str, set[str]] = {port: set() for port in ports}
    available: dict[str, Schema | None] = {p: s for p, s in schemas.items() if p in ports}
    outputs = {s.name: s.output for s in plan.steps}
    for index, step in enumerate(spec.steps):
        if isinstance(step, SqlStep):
            _sql_reads(step.sql, available, used)
        elif isinstance(step, PythonStep) and (index == 0 or takes_inputs(step.python)):
            for port in ports:
                used[port] |= set(schemas.get(port) or {})
        name = step_name(index, step.name)
        available[name] = outputs.get(name)
    return {port: frozenset(columns) for port, columns in used.items()}


def _sql_reads(sql: str, available: Mapping[str, Schema | None], used: dict[str, set[str]]) -> None:
    """Add the input columns one SQL step reads to `used` (every column of an input it reads
    when the query cannot be qualified)."""
    query = sqlmod.parse(sql)
    try:
        qualified = sqlmod.validate(query, sql, available)
    except SqlProblem:
        qualified = query
    root = build_scope(qualified)
    if qualified is query or root is None:
        for table in sqlmod.referenced_tables(query):
            if table.name in used:
                used[table.name] |= set(available.get(table.name) or {})
        return
    for scope in root.traverse():
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and source.name in used and not source.db:
                used[source.name].add(column.name)


def out_of_scope(
    spec: ProductSpec, read: Mapping[str, frozenset[str]], scopes: Scopes
) -> list[tuple[str, ColumnScope, list[str]]]:
    """`(port, scope, columns)` for each input read beyond its subscription's scope."""
    found = []
    for port, ref in spec.input_refs().items():
        scope = scopes.get(".".join(ref))
        if scope is None:
            continue
        outside = sorted(read.get(port, frozenset()) - scope.columns)
        if outside:
            found.append((port, scope, outside))
    return found


def require_scope(spec: ProductSpec, read: Mapping[str, frozenset[str]], scopes: Scopes) -> None:
    """Raise `ColumnOutOfScope` for the first input read beyond its scope."""
    for _, scope, outside in out_of_scope(spec, read, scopes):
        raise ColumnOutOfScope(spec, scope, outside)


def scope_errors(
    source: ProductSource, plan: ProductPlan, schemas: Mapping[str, Schema], scopes: Scopes
) -> list[SpecError]:
    """The validate errors of `source`: each input whose steps read beyond its scope."""
    spec = source.spec
    errors = []
    for port, scope, outside in out_of_scope(spec, columns_read(spec, plan, schemas), scopes):
        errors.append(
            source.error(
                f"input {port!r} reads {_columns(outside)} of {scope.product}, outside "
                f"subscription {scope.subscription}'s approved columns "
                f"({', '.join(sorted(scope.columns))})",
                "inputs",
                port,
                fix=scope.fix(outside),
            )
        )
    return errors


def catalog_scope_errors(
    catalog: Catalog,
    products: Mapping[tuple[str, str], ProductSource],
    plans: Mapping[tuple[str, str], ProductPlan],
) -> list[SpecError]:
    """`mesh validate`'s scope errors: every planned product's inputs read beyond the scope
    of their approved subscription in `catalog` (unapproved reads are reported as waiting)."""
    from mesh_platform.access.states import APPROVED
    from mesh_platform.access.subscriptions import access_state, scoped_columns

    errors: list[SpecError] = []
    for key, source in sorted(products.items()):
        plan = plans.get(key)
        refs = source.spec.input_refs()
        scopes: dict[str, ColumnScope] = {}
        for ref in {r for r in refs.values() if r[0] != key[0]} if plan else ():
            product = ".".join(ref)
            row = access_state(catalog, key[0], product)
            columns = scoped_columns(row) if row is not None and row.state == APPROVED else ()
            if row is not None and columns:
                scopes[product] = ColumnScope(key[0], product, row.id, frozenset(columns))
        if plan is not None and scopes:
            schemas = {port: plans[ref].schema for port, ref in refs.items() if ref in plans}
            errors.extend(scope_errors(source, plan, schemas, scopes))
    return errors
