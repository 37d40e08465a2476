"""Spark built-ins DuckDB lacks or means otherwise: the `spark_*` macros and the rewrites of
`translate.py` for the built-ins sqlglot models (`nanvl`, `elt`, `try_add`, `rint`, ...)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from mesh_platform.engine.duckdb.nodes import call, lit_int, replace_node

# Spark built-ins DuckDB lacks, as macros (named spark_*: domain SQL cannot call them directly,
# `compile/functions.py` refuses the name). Spark's definitions are quoted beside each.
SPARK_MACROS = {
    # pmod(a, n): r = a % n; if r < 0 then (r + n) % n else r
    "spark_pmod": "(a, n) AS CASE WHEN a % n < 0 THEN (a % n + n) % n ELSE a % n END",
    # months_between: whole months when the days of month agree or both are month ends,
    # else the difference in seconds over 31-day months; rounded to 8 digits by default.
    "spark_months_between": (
        "(t1, t2, round_off) AS (SELECT CASE WHEN round_off THEN round(v, 8) ELSE v END FROM "
        "(SELECT CASE WHEN day(t1) = day(t2) OR (t1::DATE = last_day(t1::DATE) "
        "AND t2::DATE = last_day(t2::DATE)) THEN CAST(m AS DOUBLE) "
        "ELSE m + ((day(t1) - day(t2)) * 86400 + (epoch(t1) - epoch(date_trunc('day', t1))) "
        "- (epoch(t2) - epoch(date_trunc('day', t2)))) / 2678400.0 END AS v FROM "
        "(SELECT (year(t1) * 12 + month(t1)) - (year(t2) * 12 + month(t2)) AS m)))"
    ),
    # substring_index(str, delim, count): left of the count-th delimiter (from the right when
    # count < 0); '' when count is 0; the whole text when there are fewer delimiters.
    "spark_substring_index": (
        "(s, d, n) AS CASE WHEN n = 0 THEN '' WHEN n > 0 "
        "THEN array_to_string(list_slice(string_split(s, d), 1, n), d) "
        "ELSE array_to_string(list_slice(string_split(s, d), n, -1), d) END"
    ),
    # array_distinct keeps the first occurrence of each element (NULL too), in order.
    "spark_array_distinct": ("(l) AS list_filter(l, lambda x, i: list_position(l, x) = i)"),
    # find_in_set(str, list): 1-based position in the comma-separated list; 0 if absent or
    # if str holds a comma.
    "spark_find_in_set": (
        "(s, l) AS CASE WHEN contains(s, ',') THEN 0 "
        "ELSE coalesce(list_position(string_split(l, ','), s), 0) END"
    ),
}


def macros() -> str:
    """The `spark_*` macros as one script (the engine registers it on every connection)."""
    return ";\n".join(f"CREATE OR REPLACE TEMP MACRO {n}{b}" for n, b in SPARK_MACROS.items())


def _nanvl(node: exp.Nanvl) -> None:
    nan = call("isnan")([node.this])
    replace_node(node, exp.If(this=nan, true=node.expression.copy(), false=node.this.copy()))


def _elt(node: exp.Elt) -> None:
    """elt(n, a, b, ...): the n-th argument, NULL when n is out of range."""
    values = exp.Array(expressions=[e.copy() for e in node.expressions])
    replace_node(node, call("list_extract")([values, node.this]))


def _try_arithmetic(operator: type[exp.Binary]) -> Callable[[exp.Expr], None]:
    """try_add / try_subtract / try_multiply: NULL on overflow instead of an error."""

    def rewrite(node: exp.Expr) -> None:
        computed = operator(this=node.this.copy(), expression=node.expression.copy())
        replace_node(node, call("try")([computed]))

    return rewrite


def _reciprocal(function: type[exp.Func]) -> Callable[[exp.Expr], None]:
    def rewrite(node: exp.Expr) -> None:
        inner = call(function.__name__.lower())([node.this])
        replace_node(node, exp.Div(this=exp.Literal.number("1.0"), expression=inner))

    return rewrite


BUILTIN_REWRITES: dict[type[exp.Expr], Callable[..., None]] = {
    exp.Nanvl: _nanvl,
    exp.Negative: lambda node: replace_node(node, exp.Neg(this=node.this.copy())),
    exp.Rint: lambda node: replace_node(
        node,
        exp.Cast(this=call("round_even")([node.this, lit_int(0)]), to=exp.DataType.build("DOUBLE")),
    ),
    exp.Sec: _reciprocal(exp.Cos),
    exp.Csc: _reciprocal(exp.Sin),
    exp.CurrentTimezone: lambda node: replace_node(node, exp.Literal.string("UTC")),
    exp.SafeAdd: _try_arithmetic(exp.Add),
    exp.SafeSubtract: _try_arithmetic(exp.Sub),
    exp.SafeMultiply: _try_arithmetic(exp.Mul),
    exp.Elt: _elt,
    exp.RegexpSubstr: lambda node: replace_node(
        node,
        exp.Nullif(
            this=call("regexp_extract")([node.this, node.expression]),
            expression=exp.Literal.string(""),
        ),
    ),
}
