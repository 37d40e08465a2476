"""Column lineage and formulas: where each output column comes from, as an expression.

A product's leading run of SQL steps is composed into one query (earlier steps as CTEs), and
sqlglot's lineage walks it back to the input columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.lineage import Node, lineage

from mesh_platform.column_types import Schema
from mesh_platform.compile.sql import SOURCE_DIALECT, sqlglot_schema
from mesh_platform.compile.step_lineage import ColumnLineage, LineageStep, after, input_columns


def column_lineage(
    query: exp.Query, schemas: Mapping[str, Schema], columns: list[str]
) -> dict[str, ColumnLineage]:
    """Per output column: its source (table, column) pairs and its formula over them."""
    sg_schema = sqlglot_schema(schemas)
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
    if isinstance(node.source, exp.SetOperation) and node.name == _set_name(node.source):
        return _branches(node.source, node.downstream)
    expression = node.expression
    if isinstance(expression, exp.Alias):
        expression = expression.this
    if isinstance(expression, exp.Table):
        return exp.column(node.name.split(".")[-1])
    if isinstance(node.source, exp.Lateral) and isinstance(node.source.this, exp.Expression):
        expression = node.source.this  # a LATERAL VIEW's column: what the UDTF reads
    expression = expression.copy()
    below = [d for d in node.downstream if not isinstance(d.source, exp.Table) and d is not node]
    by_name: dict[str, list[Node]] = {}
    for down in below:
        by_name.setdefault(down.name, []).append(down)

    def replace(e: exp.Expression) -> exp.Expression:
        if isinstance(e, exp.Column):
            found = by_name.get(e.sql()) or by_name.get(e.name) or _branch_nodes(e, below)
            if found:
                inner = _one_of([_expand(d) for d in found], found[0])
                return exp.paren(inner) if isinstance(inner, exp.Binary) else inner
            return exp.column(e.name)
        return e

    if isinstance(expression, exp.Column):
        return replace(expression)
    return expression.transform(replace)


def _set_name(source: exp.SetOperation) -> str:
    return type(source).__name__.upper()


def _branch_nodes(column: exp.Column, below: list[Node]) -> list[Node]:
    """The nodes of a UNION's branches a column of a WITH query or subquery reads: sqlglot
    names them by the column's position and refers them to the query's name."""
    return [d for d in below if d.name.isdigit() and d.reference_node_name == column.table]


def _one_of(expanded: list[exp.Expression], first: Node) -> exp.Expression:
    if len(expanded) == 1:
        return expanded[0]
    setop = first.source.parent if isinstance(first.source, exp.Select) else None
    distinct = bool(isinstance(setop, exp.SetOperation) and setop.args.get("distinct"))
    return _union_of(expanded, distinct)


def _branches(source: exp.SetOperation, downstream: list[Node]) -> exp.Expression:
    """A column of a set operation: every branch's formula, `SELECT a UNION ALL SELECT b`."""
    expanded = [_expand(d) for d in downstream]
    if len(expanded) == 1:
        return expanded[0]
    return _union_of(expanded, bool(source.args.get("distinct")))


def _union_of(expanded: list[exp.Expression], distinct: bool) -> exp.Expression:
    if len({e.sql() for e in expanded}) == 1:
        return expanded[0]
    query: exp.Query = exp.select(expanded[0])
    for branch in expanded[1:]:
        query = exp.union(query, exp.select(branch), distinct=distinct)
    return exp.paren(query)


def compose(run: Sequence[LineageStep]) -> exp.Query:
    """Consecutive SQL steps as one query: the last step's, with the earlier ones as CTEs.

    The last step's own CTEs follow the steps' (a CTE may read an earlier step).
    """
    *ctes, final = run
    assert final.query is not None
    query = final.query.copy()
    own_with = query.args.get("with_") or query.args.get("with")
    own_ctes = list(own_with.expressions) if own_with is not None else []
    if own_with is not None:
        own_with.pop()
    for cte in ctes:
        assert cte.query is not None
        query = query.with_(cte.name, as_=cte.query.copy(), append=True)
    for own in own_ctes:
        query = query.with_(own.alias, as_=own.this.copy(), append=True)
    return query


def product_lineage(
    steps: Sequence[LineageStep], input_schemas: Mapping[str, Schema | None], names: list[str]
) -> dict[str, ColumnLineage]:
    """Lineage through a product's steps: the leading run of SQL steps composed as CTEs over the
    inputs, then every later step as `steps_lineage.after` says (a Python step's columns come
    from all it received). A column left out has no known lineage (so it carries every
    sensitive tag of the inputs, `security/pii.py`).
    """
    prefix: list[LineageStep] = []
    for step in steps:
        if step.query is None:
            break
        prefix.append(step)
    if any(s is None for s in input_schemas.values()):
        return {}
    schemas = {k: v for k, v in input_schemas.items() if v is not None}
    if len(prefix) == len(steps):
        return column_lineage(compose(prefix), schemas, names) if prefix else {}
    if prefix:
        final = prefix[-1]
        if final.output is None:
            return {}  # the columns later steps receive are not known
        found = column_lineage(compose(prefix), schemas, list(final.output))
        if set(found) != set(final.output):
            return {}
        frames = {final.name: found}
    else:
        frames = {}
    current = after(steps[len(prefix) :], frames, input_columns(schemas))
    return {n: line for n in names if (line := current.get(n)) is not None}
