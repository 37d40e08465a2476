"""Spark's string semantics on DuckDB: the rewrites of `translate.py` for text.

Spark reads substring position 0 as 1 and a negative length as 0, gives 0 from locate for a
position below 1, escapes LIKE patterns with a backslash by default, removes the search text
when replace has no replacement, splits without a limit when the limit is not positive, and
reads a string given where binary is expected (`base64(s)`, `CAST(s AS BINARY)`) as its UTF-8
bytes (DuckDB's cast of text to BLOB reads `\\x41` escapes and refuses other non-ASCII text).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from mesh_platform.compile.spark_semantics import int_literal
from mesh_platform.engine.duckdb.nodes import STRINGS, is_type, lit_int, replace_node


def positive_length(node: exp.Expr, key: str) -> None:
    """A negative length counts as 0 (Spark): left('abc', -1) and substring(s, 2, -1) are ''."""
    length = node.args.get(key)
    if length is not None and (int_literal(length) is None or (int_literal(length) or 0) < 0):
        node.set(key, exp.Greatest(this=length.copy(), expressions=[lit_int(0)]))


def _locate(node: exp.StrPosition) -> None:
    """locate(sub, s, pos) is 0 when pos < 1."""
    position = node.args.get("position")
    if position is None or (int_literal(position) or 0) >= 1:
        return
    below = exp.LT(this=position.copy(), expression=lit_int(1))
    replace_node(node, exp.If(this=below, true=lit_int(0), false=node.copy()))


def _like(node: exp.Like | exp.ILike) -> None:
    """Spark's LIKE escapes with a backslash unless told otherwise ('a\\_c' matches 'a_c')."""
    if not isinstance(node.parent, exp.Escape):
        replace_node(node, exp.Escape(this=node.copy(), expression=exp.Literal.string("\\")))


def _replace_text(node: exp.Replace) -> None:
    """replace(s, search) removes `search` (the replacement defaults to '')."""
    if node.args.get("replacement") is None:
        node.set("replacement", exp.Literal.string(""))


def _substring(node: exp.Substring) -> None:
    """Spark reads position 0 as 1 (DuckDB as the place before the first character)."""
    positive_length(node, "length")
    start = node.args.get("start")
    if start is None or int_literal(start) not in (0, None):
        return
    if int_literal(start) == 0:
        node.set("start", lit_int(1))
        return
    zero = exp.EQ(this=start.copy(), expression=lit_int(0))
    node.set("start", exp.If(this=zero, true=lit_int(1), false=start.copy()))


def _split(node: exp.RegexpSplit) -> None:
    """split(str, regex, limit <= 0) is split without a limit (a positive one is refused)."""
    limit = node.args.get("limit")
    value = int_literal(limit) if limit is not None else None
    if value is not None and value <= 0:
        node.set("limit", None)


def utf8_bytes(node: exp.Expr) -> exp.Expr:
    """A string expression's UTF-8 bytes, as Spark casts a string to binary."""
    return exp.Encode(this=node.copy(), charset=exp.Literal.string("utf-8"))


def _base64(node: exp.ToBase64) -> None:
    """base64 of a string encodes its UTF-8 bytes (Spark casts the string to binary)."""
    if is_type(node.this, STRINGS):
        node.set("this", utf8_bytes(node.this))


STRING_REWRITES: dict[type[exp.Expr], Callable[..., None]] = {
    exp.Substring: _substring,
    exp.Left: lambda node: positive_length(node, "expression"),
    exp.Right: lambda node: positive_length(node, "expression"),
    exp.StrPosition: _locate,
    exp.Like: _like,
    exp.ILike: _like,
    exp.Replace: _replace_text,
    exp.RegexpSplit: _split,
    exp.ToBase64: _base64,
}
