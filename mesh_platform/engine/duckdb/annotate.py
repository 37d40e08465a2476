"""Types and names for the Spark-to-DuckDB translation (`translate.py`).

The translation's type-dependent rewrites (a DATE plus an interval stays a DATE, a sum of
integers is a BIGINT, ...) need each node's type: sqlglot infers it from the column types of
the tables the query reads, which the engine's connection holds (its registered inputs and
the views of earlier steps).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import duckdb
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

DIALECT = "duckdb"


def keep_output_names(query: exp.Expr, tree: exp.Expr, con: duckdb.DuckDBPyConnection) -> None:
    """An unaliased result column keeps the name DuckDB gives the untranslated expression
    (`sum(i)`, not `TRY_CAST(sum(i) AS BIGINT)`): a rewrite changes values, never names."""
    if not isinstance(query, exp.Query) or not isinstance(tree, exp.Query):
        return
    before, after = query.selects, tree.selects
    changed = [
        index
        for index, (old, new) in enumerate(zip(before, after, strict=False))
        if not isinstance(old, (exp.Alias, exp.Column, exp.Star)) and old != new
    ]
    if not changed or len(before) != len(after):
        return
    try:
        names = con.sql(query.sql(dialect=DIALECT)).columns
    except duckdb.Error:  # the untranslated query does not even bind: no name to keep
        return
    for index in changed:
        after[index].replace(exp.alias_(after[index].copy(), names[index], quoted=True))


def schemas(tree: exp.Expr, con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Column types of the tables `tree` reads that `con` knows (CTE names are skipped)."""
    out: dict[str, dict[str, str]] = {}
    for name in {t.name for t in tree.find_all(exp.Table) if t.name}:
        try:
            relation = con.sql(f'SELECT * FROM "{name}" LIMIT 0')
        except duckdb.Error:
            continue
        out[name] = {c: str(t) for c, t in zip(relation.columns, relation.types, strict=True)}
    return out


def annotate(tree: exp.Expr, schemas: Mapping[str, Mapping[str, str]]) -> None:
    """Give every node the type sqlglot can infer, columns typed from `schemas`.

    sqlglot types a column only when it names its source, so an unqualified column whose name
    one source of its scope has is qualified for the annotation, then unqualified again. A
    query sqlglot cannot type stays (partly) untyped: the rewrites that need a type skip it.
    """
    added: list[exp.Column] = []
    try:
        root = build_scope(tree) if isinstance(tree, exp.Query) else None
    except Exception:  # typing is best effort: the query still runs
        root = None
    if root is not None and schemas:
        for scope in root.traverse():
            for column in scope.unqualified_columns:
                owners = [a for a, s in scope.sources.items() if _has(s, column.name, schemas)]
                if len(owners) == 1:
                    column.set("table", exp.to_identifier(owners[0]))
                    added.append(column)
    schema = MappingSchema(
        {t: {c: _type(v) for c, v in cols.items()} for t, cols in schemas.items()},
        dialect=DIALECT,
        normalize=False,
    )
    try:
        annotate_types(tree, schema=schema, dialect="spark")
    except Exception:  # typing is best effort: the query still runs
        pass
    finally:
        for column in added:
            column.set("table", None)


def _has(source: exp.Table | Scope, name: str, schemas: Mapping[str, Mapping[str, str]]) -> bool:
    if isinstance(source, exp.Table):
        return name in schemas.get(source.name, {})
    query = source.expression
    return isinstance(query, exp.Query) and name in query.named_selects


@functools.cache
def _type(duckdb_type: str) -> exp.DataType:
    try:
        return exp.DataType.build(duckdb_type, dialect=DIALECT)
    except Exception:  # a type sqlglot does not parse stays unknown
        return exp.DataType.build("unknown")
