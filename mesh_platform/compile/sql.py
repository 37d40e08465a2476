"""Spark SQL steps: parsing, validation against input schemas, types, lineage and formulas.

SQL is written once in the Spark dialect (the production target). sqlglot parses it for
validation and lineage, and transpiles it for the local engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope

from mesh_platform.column_types import UNKNOWN, Schema, from_sqlglot

SOURCE_DIALECT = "spark"


class SqlProblem(Exception):
    """A problem in one SQL text, with the line inside that text (1-based)."""

    def __init__(self, message: str, line: int | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.fix = fix


def parse(sql: str) -> exp.Query:
    """Parse one SELECT statement in the Spark dialect."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise SqlProblem(
            f"SQL does not parse: {first.get('description', str(exc))} "
            f"near {first.get('highlight', '')!r}",
            first.get("line"),
            "check the syntax near this line (Spark SQL dialect)",
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlProblem(
            "a SQL step must be exactly one SELECT query (no DDL, no INSERT, no second statement)",
            1,
            "keep one SELECT ... per step; split further work into another step",
        )
    return statements[0]


def referenced_tables(query: exp.Query) -> list[exp.Table]:
    """The tables a query reads, excluding its own CTEs."""
    root = build_scope(query)
    if root is None:
        return []
    tables: list[exp.Table] = []
    for scope in root.traverse():
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                tables.append(source)
    return tables


def line_of_node(sql: str, node: exp.Expression, name: str) -> int | None:
    """Best line for a node: its parser position, else the first line that mentions `name`."""
    meta_line = node.meta.get("line") if node.meta else None
    if meta_line:
        return int(meta_line)
    for number, text in enumerate(sql.splitlines(), start=1):
        if name.lower() in text.lower():
            return number
    return None


def validate(query: exp.Query, sql: str, schemas: Mapping[str, Schema | None]) -> exp.Query:
    """Check tables and columns against the known schemas; return the qualified query."""
    for table in referenced_tables(query):
        if table.name not in schemas:
            known = ", ".join(sorted(schemas)) or "(none)"
            raise SqlProblem(
                f"unknown input or step {table.name!r}; this step can read: {known}",
                line_of_node(sql, table, table.name),
                f"add {table.name!r} to `inputs:` or fix the table name",
            )
    if any(schemas[t.name] is None for t in referenced_tables(query)):
        return query
    sg_schema = {name: dict(cols) for name, cols in schemas.items() if cols is not None}
    try:
        return qualify(
            query.copy(),
            schema=_sqlglot_schema(sg_schema),
            dialect=SOURCE_DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=False,
        )
    except OptimizeError as exc:
        text = str(exc)
        column = text.split("'")[1] if text.count("'") >= 2 else ""
        line = None
        if "Line:" in text:
            line = int(text.split("Line:")[1].split(",")[0])
        elif column:
            line = line_of_node(sql, exp.Column(), column)
        available = _columns_hint(query, sg_schema)
        raise SqlProblem(
            f"{text.split('. Line:')[0]}{available}",
            line,
            "use a column of the inputs (see `mesh preview` or the input's product page)",
        ) from None


def _columns_hint(query: exp.Query, schemas: Mapping[str, Schema]) -> str:
    names = {t.name for t in referenced_tables(query)}
    cols = sorted({c for n in names for c in schemas.get(n, {})})
    if not cols or len(cols) > 40:
        return ""
    return f"; available columns: {', '.join(cols)}"


def _sqlglot_schema(schemas: Mapping[str, Schema]) -> dict[str, object]:
    return {
        table: {col: (typ if typ != UNKNOWN else "string") for col, typ in cols.items()}
        for table, cols in schemas.items()
    }


def output_schema(qualified: exp.Query, schemas: Mapping[str, Schema | None]) -> Schema:
    """Names and (where sqlglot can tell) types of the query's output columns."""
    known = {n: s for n, s in schemas.items() if s is not None}
    typed = annotate_types(qualified.copy(), schema=_sqlglot_schema(known))
    out: Schema = {}
    for select in typed.selects:
        name = select.alias_or_name
        if name == "*":
            return {}
        out[name] = from_sqlglot(select.type)
    return out


@dataclass(frozen=True)
class ColumnLineage:
    """Where an output column comes from and the expression that computes it."""

    sources: tuple[tuple[str, str], ...]
    formula: str


def column_lineage(
    query: exp.Query, schemas: Mapping[str, Schema], columns: list[str]
) -> dict[str, ColumnLineage]:
    """Per output column: its source (table, column) pairs and its formula over them."""
    sg_schema = _sqlglot_schema(schemas)
    try:
        # All columns at once: one qualification of the query, shared across columns.
        nodes = lineage(None, query, schema=sg_schema, dialect=SOURCE_DIALECT)
        assert isinstance(nodes, dict)
    except (OptimizeError, ValueError, KeyError):
        nodes = {}
        for column in columns:
            try:
                found = lineage(column, query, schema=sg_schema, dialect=SOURCE_DIALECT)
            except (OptimizeError, ValueError, KeyError):
                continue
            assert isinstance(found, Node)
            nodes[column] = found
    result: dict[str, ColumnLineage] = {}
    for column in columns:
        node = nodes.get(column)
        if node is None:
            continue
        sources = sorted(
            {
                (leaf.source.name, leaf.name.split(".")[-1])
                for leaf in node.walk()
                if not leaf.downstream and isinstance(leaf.source, exp.Table)
            }
        )
        result[column] = ColumnLineage(tuple(sources), _formula(node))
    return result


def _formula(node: Node) -> str:
    """The column's expression with intermediate (CTE, subquery) columns expanded."""
    expression = _expand(node)
    return expression.sql(dialect=SOURCE_DIALECT)


def _expand(node: Node) -> exp.Expression:
    expression = node.expression
    if isinstance(expression, exp.Alias):
        expression = expression.this
    if isinstance(expression, exp.Table):
        return exp.column(node.name.split(".")[-1])
    expression = expression.copy()
    by_name = {d.name: d for d in node.downstream if not isinstance(d.source, exp.Table)}

    def replace(e: exp.Expression) -> exp.Expression:
        if isinstance(e, exp.Column):
            down = by_name.get(e.sql()) or by_name.get(e.name)
            if down is not None and down is not node:
                inner = _expand(down)
                return exp.paren(inner) if isinstance(inner, exp.Binary) else inner
            return exp.column(e.name)
        return e

    if isinstance(expression, exp.Column):
        return replace(expression)
    return expression.transform(replace)
