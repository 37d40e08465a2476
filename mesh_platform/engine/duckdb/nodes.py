"""Small tools over sqlglot trees for the Spark-to-DuckDB translation (`translate.py`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

DT = exp.DType
INTEGRAL = {DT.TINYINT, DT.SMALLINT, DT.INT, DT.BIGINT}
INTEGER_LIKE = INTEGRAL | {DT.INT128, DT.UTINYINT, DT.USMALLINT, DT.UINT, DT.UBIGINT}
FLOATING = {DT.FLOAT, DT.DOUBLE}
STRINGS = {DT.VARCHAR, DT.TEXT, DT.CHAR, DT.NCHAR, DT.NVARCHAR}
NUMBERS = INTEGER_LIKE | FLOATING | {DT.DECIMAL}


def is_type(node: exp.Expr, types: set[DT]) -> bool:
    return node.type is not None and node.type.this in types


def known(node: exp.Expr) -> bool:
    return node.type is not None and node.type.this != DT.UNKNOWN


def replace_node(node: exp.Expr, new: exp.Expr) -> None:
    new.type = node.type
    node.replace(new)


def cast_to(node: exp.Expr, to: str, safe: bool = True) -> exp.Expr:
    cls = exp.TryCast if safe else exp.Cast
    return cls(this=node, to=exp.DataType.build(to))


def as_date(node: exp.Expr) -> exp.Expr:
    """`node` as a DATE: Spark reads a string or timestamp argument of a date function so."""
    return node if is_type(node, {DT.DATE}) else cast_to(node.copy(), "DATE")


def outer(node: exp.Expr) -> exp.Expr:
    """The whole call around an aggregate: its window and FILTER, which a cast must wrap."""
    while isinstance(node.parent, (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls)):
        node = node.parent
    return node


def lit_int(value: int) -> exp.Literal:
    return exp.Literal(this=str(value), is_string=False)


def call(name: str) -> Callable[[list[exp.Expr]], exp.Expr]:
    return lambda args: exp.Anonymous(this=name, expressions=[a.copy() for a in args])


def wrap(to: str) -> Callable[[exp.Expr], None]:
    def rewrite(node: exp.Expr) -> None:
        replace_node(node, exp.TryCast(this=node.copy(), to=exp.DataType.build(to)))

    return rewrite


def as_call(name: str) -> Callable[[exp.Expr], None]:
    def rewrite(node: exp.Expr) -> None:
        args = [node.this, *node.expressions] if node.expressions else list(node.iter_expressions())
        replace_node(node, call(name)(args))

    return rewrite


def is_decimal(node: exp.Expr) -> bool:
    """A DECIMAL for Spark: typed so, or a literal like 2.5 (sqlglot types it DOUBLE)."""
    if isinstance(node, (exp.Neg, exp.Paren)):
        return is_decimal(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return "." in node.name and "e" not in node.name.lower()
    return is_type(node, {DT.DECIMAL})
