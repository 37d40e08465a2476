"""Spark SQL steps: parsing, validation against input schemas, and output types.

GROUP BY completeness is checked in `grouping.py`, lineage and formulas derived in
`lineage.py`.

SQL is written once in the Spark dialect (the production target). sqlglot parses it for
validation and lineage, and transpiles it for the local engine.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.tokens import TokenType

from mesh_platform.column_types import UNKNOWN, Schema, from_sqlglot
from mesh_platform.compile import functions, spark_semantics
from mesh_platform.errors import SpecError

SOURCE_DIALECT = "spark"


class SqlProblem(SpecError):
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
    _check_trailing_commas(sql)
    return statements[0]


# Tokens that close a list: a comma right before one of them (or at the very end) is a trailing
# comma. sqlglot drops it silently; Spark refuses the query (`SELECT a, b, FROM t`).
_LIST_CLOSERS = {
    TokenType.FROM: "FROM",
    TokenType.WHERE: "WHERE",
    TokenType.GROUP_BY: "GROUP BY",
    TokenType.HAVING: "HAVING",
    TokenType.ORDER_BY: "ORDER BY",
    TokenType.SORT_BY: "SORT BY",
    TokenType.CLUSTER_BY: "CLUSTER BY",
    TokenType.DISTRIBUTE_BY: "DISTRIBUTE BY",
    TokenType.WINDOW: "WINDOW",
    TokenType.LIMIT: "LIMIT",
    TokenType.UNION: "UNION",
    TokenType.EXCEPT: "EXCEPT",
    TokenType.INTERSECT: "INTERSECT",
    TokenType.R_PAREN: "')'",
    TokenType.SEMICOLON: "';'",
}


def _check_trailing_commas(sql: str) -> None:
    tokens = sqlglot.Dialect.get_or_raise(SOURCE_DIALECT).tokenize(sql)
    for comma, after in zip(tokens, [*tokens[1:], None], strict=True):
        if comma.token_type != TokenType.COMMA:
            continue
        if after is None or after.token_type in _LIST_CLOSERS:
            where = "the end of the query" if after is None else _LIST_CLOSERS[after.token_type]
            raise SqlProblem(
                f"trailing comma before {where}: Spark SQL refuses a comma after the last item "
                "of a list",
                comma.line,
                f"remove the comma before {where}",
            )


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


def line_of_node(sql: str, node: exp.Expr, name: str) -> int | None:
    """Best line for a node: its parser position, else the first line that mentions `name`."""
    for part in node.walk():
        # The parser records positions on tokens (identifiers, function names), not on
        # every node built from them: the first one inside the node is where it starts.
        meta_line = part.meta.get("line") if part.meta else None
        if meta_line:
            return int(meta_line)
    for number, text in enumerate(sql.splitlines(), start=1):
        if name.lower() in text.lower():
            return number
    return None


def validate(query: exp.Query, sql: str, schemas: Mapping[str, Schema | None]) -> exp.Query:
    """Check tables and columns against the known schemas; return the qualified query.

    An idiom no engine of the mesh can answer as Spark does is refused here too, so that the
    SQL of a quality rule (which is validated, not function-checked) cannot hold one either.
    """
    _check_refusals(query, sql)
    for table in referenced_tables(query):
        _check_plain_table(table, sql, schemas)
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
            schema=sqlglot_schema(sg_schema),
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
        if column and "could not be resolved" in text:
            _check_ambiguous(query, sql, column, sg_schema)
        available = _columns_hint(query, sg_schema)
        raise SqlProblem(
            f"{text.split('. Line:')[0]}{available}",
            line,
            "use a column of the inputs (see `mesh preview` or the input's product page)",
        ) from None


def _check_plain_table(table: exp.Table, sql: str, schemas: Mapping[str, Schema | None]) -> None:
    """Refuse a source that is not a plain name: a table function, a database or a file.

    Domain SQL reads only its inputs and earlier steps; `read_csv('x')`, `range(10)` or
    `parquet.`/path`` would read around the platform (and parse as tables without a name).
    """
    known = ", ".join(sorted(schemas)) or "(none)"
    source = table.this
    if isinstance(source, exp.Func) or not table.name:
        if isinstance(source, exp.Anonymous):
            name = source.name
        elif isinstance(source, exp.Func):
            name = source.sql_name()
        else:
            name = table.sql(dialect=SOURCE_DIALECT)
        raise SqlProblem(
            f"table function {name.lower()!r} may not be read: domain SQL reads only its inputs "
            f"and earlier steps ({known})",
            line_of_node(sql, table, name),
            "read the data through an input under `inputs:`; to expand an array, use "
            "`LATERAL VIEW explode(...)`",
        )
    if table.args.get("db") or table.args.get("catalog"):
        written = table.sql(dialect=SOURCE_DIALECT)
        raise SqlProblem(
            f"{written!r} names a database, catalog or file: domain SQL reads only its inputs "
            f"and earlier steps ({known})",
            line_of_node(sql, table, table.name),
            f"add the product to `inputs:` and read it by its input name, e.g. {table.name!r}",
        )


def _check_ambiguous(
    query: exp.Query, sql: str, column: str, schemas: Mapping[str, Schema]
) -> None:
    """Raise the ambiguity when `column` is unqualified where two sources of a scope have it.

    sqlglot reports an ambiguous column as one that "could not be resolved"; Spark names it
    ambiguous, and so does the fix: qualify it with the source it should come from.
    """
    root = build_scope(query)
    if root is None:
        return
    wanted = column.lower()
    for scope in root.traverse():
        used = [c for c in scope.unqualified_columns if c.name.lower() == wanted]
        if not used:
            continue
        having = [
            (alias, _source_label(alias, source))
            for alias, source in scope.sources.items()
            if wanted in _source_columns(source, schemas)
        ]
        if len(having) >= 2:
            raise SqlProblem(
                f"column {column!r} is ambiguous: {', '.join(label for _, label in having)} "
                "all have it",
                line_of_node(sql, used[0], column),
                f"qualify it with the input it comes from, e.g. {having[0][0]}.{column}",
            )


def _source_columns(source: exp.Table | Scope, schemas: Mapping[str, Schema]) -> set[str]:
    if isinstance(source, Scope):
        query = source.expression
        return {n.lower() for n in query.named_selects} if isinstance(query, exp.Query) else set()
    if isinstance(source, exp.Table):
        return {name.lower() for name in schemas.get(source.name, {})}
    return set()


def _source_label(alias: str, source: exp.Table | Scope) -> str:
    if isinstance(source, exp.Table) and source.name != alias:
        return f"{source.name} (as {alias})"
    return alias


def check_functions(query: exp.Query, sql: str) -> None:
    """Refuse a call to a function that is neither a Spark SQL nor a platform SQL function,
    and a Spark idiom no engine of the mesh can answer as Spark does (`spark_semantics`)."""
    _check_refusals(query, sql)
    for call in functions.unknown_calls(query):
        close = functions.close_matches(call.name, SOURCE_DIALECT)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise SqlProblem(
            f"unknown function {call.name!r}: neither a Spark SQL function nor one of the "
            "platform's SQL functions",
            line_of_node(sql, call, call.name),
            f"{hint}see `mesh standards` for the platform's SQL functions and the Spark SQL "
            "reference for the built-ins",
        )


def _check_refusals(query: exp.Expr, sql: str) -> None:
    for refused in spark_semantics.refusals(query):
        raise SqlProblem(
            refused.message, line_of_node(sql, refused.node, refused.name), refused.fix
        )


def _columns_hint(query: exp.Query, schemas: Mapping[str, Schema]) -> str:
    names = {t.name for t in referenced_tables(query)}
    cols = sorted({c for n in names for c in schemas.get(n, {})})
    if not cols or len(cols) > 40:
        return ""
    return f"; available columns: {', '.join(cols)}"


def sqlglot_schema(schemas: Mapping[str, Schema], keep_unknown: bool = False) -> dict[str, object]:
    unknown = UNKNOWN if keep_unknown else "string"
    return {
        table: {col: (typ if typ != UNKNOWN else unknown) for col, typ in cols.items()}
        for table, cols in schemas.items()
    }


def output_schema(qualified: exp.Query, schemas: Mapping[str, Schema | None]) -> Schema:
    """Names and (where sqlglot can tell) types of the query's output columns."""
    known = {n: s for n, s in schemas.items() if s is not None}
    # An input column of unknown type stays unknown (qualification reads it as a string), so
    # the contract check at load never refuses a type the SQL does not actually tell.
    typed = annotate_types(qualified.copy(), schema=sqlglot_schema(known, keep_unknown=True))
    out: Schema = {}
    for select in typed.selects:
        name = select.alias_or_name
        if name == "*":
            return {}
        out[name] = from_sqlglot(select.type)
    return out
