"""Spark SQL to DuckDB SQL with Spark's meaning: sqlglot's transpilation plus the fixes it lacks.

sqlglot (read "spark", write "duckdb") translates the syntax; on these points DuckDB would
still answer differently from Spark (tests/test_spark_idioms.py holds each case with the value
the Spark 3.5 reference documents), so the parsed tree is rewritten first:

- casts to an integral type truncate (DuckDB rounds: CAST(1.5 AS INT) is 2 there, 1 on Spark);
- `dayofweek` counts from Sunday = 1, `weekday` from Monday = 0;
- `date_add`, `date_sub`, `add_months`, `trunc` and a date plus a day/month/year interval stay
  DATEs (DuckDB widens them to TIMESTAMPs); date functions take a date written as a string;
- `unix_timestamp` is a BIGINT (NULL when the text does not parse), `months_between` follows
  Spark's formula (31-day months, time of day, rounded to 8 digits);
- `div` truncates to a BIGINT, `ceil`/`floor` of a non-decimal are BIGINTs, `sum` of integers
  is a BIGINT (DuckDB's HUGEINT reaches the lake as decimal(38,0));
- `substring` position 0 means 1; `bround`, `pmod`, `isnull`, ... (Spark built-ins DuckDB
  lacks) become DuckDB expressions or the `spark_*` macros of `spark_builtins.py`.

The date and time rewrites are in `spark_dates.py`, the string ones in `spark_strings.py`.
Types come from the tables the query reads (the connection's registered inputs and earlier
steps, `annotate.py`), so a rewrite that depends on a type (a DATE plus an interval) is made
only when it is known. What cannot be given Spark's meaning is refused at validate
(`compile/spark_semantics.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from sqlglot import exp

from mesh_platform.engine.duckdb.annotate import DIALECT, annotate, keep_output_names, schemas
from mesh_platform.engine.duckdb.nodes import (
    DT,
    FLOATING,
    INTEGER_LIKE,
    INTEGRAL,
    NUMBERS,
    STRINGS,
    as_call,
    as_date,
    call,
    cast_to,
    is_decimal,
    is_type,
    known,
    lit_int,
    outer,
    replace_node,
    wrap,
)
from mesh_platform.engine.duckdb.spark_builtins import BUILTIN_REWRITES
from mesh_platform.engine.duckdb.spark_dates import DATE_REWRITES, date_part, interval_arithmetic
from mesh_platform.engine.duckdb.spark_strings import STRING_REWRITES, utf8_bytes


def to_duckdb(query: exp.Expr, con: duckdb.DuckDBPyConnection | None = None) -> str:
    """DuckDB SQL for a Spark SQL query, typed by the tables `con` holds (if given)."""
    tree = query.copy()
    annotate(tree, schemas(tree, con) if con is not None else {})
    # Innermost first: a rewrite that copies its operands copies them already rewritten.
    for node in reversed(list(tree.walk(bfs=False))):
        rewrite = _REWRITES.get(type(node))
        if rewrite is not None:
            rewrite(node)
    if con is not None:
        keep_output_names(query, tree, con)
    return tree.sql(dialect=DIALECT)


def _cast(node: exp.Cast) -> None:
    """Casts as Spark makes them (ANSI off, session time zone UTC).

    - to an integral type: truncated toward 0 (DuckDB rounds), a string read as a number;
    - to TIMESTAMP: Spark's (local-time-zone) timestamp in a UTC session is DuckDB's plain
      TIMESTAMP, as the lake stores it (sqlglot says TIMESTAMPTZ, which prints '+00');
    - a string to BOOLEAN: trimmed first (' true ' is true);
    - a string to BINARY: its UTF-8 bytes.
    """
    if type(node) is exp.Cast:  # every Spark cast gives NULL for what it cannot convert
        safe = exp.TryCast(this=node.this, to=node.to)
        replace_node(node, safe)
        node = safe
    target = node.to.this
    if target in (DT.BINARY, DT.VARBINARY) and is_type(node.this, STRINGS):
        replace_node(node, utf8_bytes(node.this))
    elif target in (DT.TIMESTAMPTZ, DT.TIMESTAMPLTZ):
        node.set("to", exp.DataType.build("TIMESTAMP"))
    elif target == DT.BOOLEAN and is_type(node.this, STRINGS):
        node.set("this", exp.Trim(this=node.this.copy()))
    elif target in INTEGRAL:
        _integral_cast(node)


def _integral_cast(node: exp.Cast) -> None:
    operand = node.this
    if is_type(operand, INTEGER_LIKE | {DT.BOOLEAN}):
        return
    if is_type(operand, FLOATING) or is_type(operand, {DT.DECIMAL}):
        number = operand.copy()
    else:  # a string (or unknown): Spark reads '1.9' as 1
        number = cast_to(operand.copy(), "DECIMAL(38, 9)")
    node.set("this", exp.Anonymous(this="trunc", expressions=[number]))


def _arithmetic(node: exp.Binary) -> None:
    """Spark reads a string operand of arithmetic as a double ('1.5' + 1 is 2.5)."""
    left, right = node.this, node.expression
    for text, other in ((left, right), (right, left)):
        if is_type(text, STRINGS) and is_type(other, NUMBERS):
            text.replace(cast_to(text.copy(), "DOUBLE"))
    if isinstance(node, (exp.Add, exp.Sub)):
        interval_arithmetic(node)
    elif isinstance(node, exp.Div):
        _div(node)


def _int_div(node: exp.IntDiv) -> None:
    if is_type(node.this, INTEGER_LIKE) and is_type(node.expression, INTEGER_LIKE):
        divided: exp.Expr = node.copy()
    else:
        quotient = exp.Div(this=node.this.copy(), expression=node.expression.copy())
        divided = exp.Anonymous(this="trunc", expressions=[quotient])
    replace_node(node, exp.TryCast(this=divided, to=exp.DataType.build("BIGINT")))


def _ceil_floor(node: exp.Ceil | exp.Floor) -> None:
    digits = node.args.get("decimals")
    if digits is None:
        if known(node.this) and not is_decimal(node.this):
            replace_node(node, exp.TryCast(this=node.copy(), to=exp.DataType.build("BIGINT")))
        return
    if isinstance(digits, exp.Literal) and digits.is_int:  # Spark: a decimal of that scale
        scale = max(int(digits.name), 0)
        decimal = exp.DataType.build(f"DECIMAL(38, {scale})")
        replace_node(node, exp.TryCast(this=node.copy(), to=decimal))


# Spark reads an integral operand of decimal arithmetic as a decimal of this precision.
_INTEGRAL_DIGITS = {DT.TINYINT: 3, DT.SMALLINT: 5, DT.INT: 10, DT.BIGINT: 20}


def _decimal_shape(node: exp.Expr) -> tuple[int, int] | None:
    """(precision, scale) of `node` as a Spark decimal operand; None if it is not one.

    A numeric literal is a decimal of its own digits (Spark's minimum-precision literals): 3
    is a decimal(1,0), 2.50 a decimal(3,2); an integral column the decimal its type holds.
    """
    if isinstance(node, (exp.Neg, exp.Paren)):
        return _decimal_shape(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        digits = node.name.lstrip("-")
        if "e" in digits.lower():
            return None
        whole, _, fraction = digits.partition(".")
        return max(len(whole.lstrip("0")) + len(fraction), 1), len(fraction)
    if node.type is None:
        return None
    if node.type.this in _INTEGRAL_DIGITS:
        return _INTEGRAL_DIGITS[node.type.this], 0
    params = node.type.expressions
    if node.type.this == DT.DECIMAL and len(params) == 2:
        return int(params[0].name), int(params[1].name)
    return None


def _bounded(precision: int, scale: int) -> str:
    """Spark's adjustment of a result decimal wider than 38 digits (precision loss allowed)."""
    if precision > 38:
        scale = max(38 - (precision - scale), min(scale, 6))
        precision = 38
    return f"DECIMAL({precision}, {scale})"


def _div(node: exp.Div) -> None:
    """A decimal divided (by a decimal or an integer) is a decimal on Spark; DuckDB: double."""
    left, right = _decimal_shape(node.this), _decimal_shape(node.expression)
    if left is None or right is None or not (is_decimal(node.this) or is_decimal(node.expression)):
        return
    (p1, s1), (p2, s2) = left, right
    scale = max(6, s1 + p2 + 1)
    decimal = exp.DataType.build(_bounded(p1 - s1 + s2 + scale, scale))
    replace_node(node, exp.TryCast(this=node.copy(), to=decimal))


def _avg(node: exp.Avg) -> None:
    """avg of a decimal(p, s) is a decimal(p + 4, s + 4) on Spark; DuckDB: double."""
    shape = _decimal_shape(node.this) if is_type(node.this, {DT.DECIMAL}) else None
    if shape is not None:
        whole = outer(node)
        decimal = exp.DataType.build(f"DECIMAL({min(shape[0] + 4, 38)}, {min(shape[1] + 4, 38)})")
        replace_node(whole, exp.TryCast(this=whole.copy(), to=decimal))


def _sum(node: exp.Sum) -> None:
    if is_type(node.this, INTEGER_LIKE):
        whole = outer(node)
        replace_node(whole, exp.TryCast(this=whole.copy(), to=exp.DataType.build("BIGINT")))


def _count_if(node: exp.CountIf) -> None:
    """count_if is a BIGINT (DuckDB: HUGEINT, which reaches the lake as decimal(38,0))."""
    whole = outer(node)
    replace_node(whole, exp.TryCast(this=whole.copy(), to=exp.DataType.build("BIGINT")))


def _percentile(node: exp.Quantile) -> None:
    """percentile(x, p) is exact and interpolated, a DOUBLE (an array of them for an array
    of p); DuckDB's quantile picks a value of x."""
    continuous = call("quantile_cont")([node.this, node.args["quantile"]])
    many = isinstance(node.args["quantile"], exp.Array)
    whole = outer(node)
    node.replace(continuous)
    replace_node(
        whole,
        exp.TryCast(this=whole.copy(), to=exp.DataType.build("DOUBLE[]" if many else "DOUBLE")),
    )


def _round(node: exp.Round) -> None:
    """round(double, d) rounds the double's decimal text HALF_UP (Spark: BigDecimal of
    Double.toString), so round(1.005D, 2) is 1.01; DuckDB rounds the binary value (1.0)."""
    if not is_type(node.this, FLOATING) or is_decimal(node.this):  # 2.5 is a decimal literal
        return
    exact = cast_to(cast_to(node.this.copy(), "VARCHAR"), "DECIMAL(38, 17)")
    rounded = exp.Round(this=exact, decimals=node.args.get("decimals"))
    text_rounded = exp.Cast(this=rounded, to=exp.DataType.build("DOUBLE"))
    replace_node(node, exp.Coalesce(this=text_rounded, expressions=[node.copy()]))


def _logarithm(node: exp.Ln | exp.Log) -> None:
    """ln, log, log10, log2 of a value <= 0 (or a base <= 0) are NULL, not -inf or NaN."""
    values = [node.this] if isinstance(node, exp.Ln) else [node.this, node.expression]
    invalid = [exp.LTE(this=v.copy(), expression=lit_int(0)) for v in values]
    condition = invalid[0] if len(invalid) == 1 else exp.Or(this=invalid[0], expression=invalid[1])
    replace_node(node, exp.If(this=condition, true=exp.null(), false=node.copy()))


def _reverse(node: exp.Reverse) -> None:
    """reverse of an array reverses its elements (DuckDB's reverse is for strings)."""
    if is_type(node.this, {DT.ARRAY, DT.LIST}):
        replace_node(node, call("list_reverse")([node.this]))


def _size(node: exp.ArraySize) -> None:
    """size(NULL) is -1 (Spark's default, spark.sql.legacy.sizeOfNull)."""
    replace_node(node, exp.Coalesce(this=node.copy(), expressions=[lit_int(-1)]))


def _collect(node: exp.ArrayAgg | exp.ArrayUniqueAgg) -> None:
    """collect_list / collect_set of no value (or only NULLs) is [], not NULL."""
    whole = outer(node)
    if not isinstance(whole, exp.Window):
        replace_node(
            whole, exp.Coalesce(this=whole.copy(), expressions=[exp.Array(expressions=[])])
        )


def _anonymous(node: exp.Anonymous) -> None:
    rewrite = _ANONYMOUS.get(node.name.lower())
    if rewrite is None:
        return
    new = rewrite(list(node.expressions))
    replace_node(node, new)
    typed = _REWRITES.get(type(new))
    if typed is not None and typed is not _anonymous:  # e.g. try_sum is a sum
        typed(new)


# Spark built-ins sqlglot leaves anonymous (compile/functions.py) that DuckDB lacks or means
# otherwise, as DuckDB expressions.
_ANONYMOUS: dict[str, Callable[[list[exp.Expr]], exp.Expr]] = {
    "isnull": lambda a: exp.Is(this=a[0].copy(), expression=exp.null()),
    "isnotnull": lambda a: exp.Not(this=exp.Is(this=a[0].copy(), expression=exp.null())),
    "pmod": call("spark_pmod"),
    "bround": lambda a: exp.Anonymous(
        this="round_even", expressions=[a[0].copy(), a[1].copy() if len(a) > 1 else lit_int(0)]
    ),
    "weekday": lambda a: exp.Paren(
        this=exp.Sub(this=call("isodow")([as_date(a[0])]), expression=lit_int(1))
    ),
    "find_in_set": call("spark_find_in_set"),
    "arrays_overlap": call("list_has_any"),
    "btrim": call("trim"),
    "cardinality": call("len"),
    "expm1": lambda a: exp.Sub(this=exp.Exp(this=a[0].copy()), expression=lit_int(1)),
    "log1p": lambda a: exp.Ln(this=exp.Add(this=lit_int(1), expression=a[0].copy())),
    "now": lambda a: exp.Cast(this=exp.CurrentTimestamp(), to=exp.DataType.build("TIMESTAMP")),
    "timestamp_millis": call("epoch_ms"),
    "timestamp_seconds": lambda a: exp.Cast(
        this=exp.Anonymous(this="to_timestamp", expressions=[a[0].copy()]),
        to=exp.DataType.build("TIMESTAMP"),
    ),
    "std": call("stddev"),
    "every": call("bool_and"),
    "some": call("bool_or"),
    "try_sum": lambda a: exp.Sum(this=a[0].copy()),
    "try_avg": call("avg"),
    "make_date": lambda a: call("try")([call("make_date")(a)]),
    "datepart": date_part,
    "date_part": date_part,
}


_REWRITES: dict[type[exp.Expr], Callable[..., None]] = {
    **DATE_REWRITES,
    **STRING_REWRITES,
    **BUILTIN_REWRITES,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Add: _arithmetic,
    exp.Sub: _arithmetic,
    exp.Mul: _arithmetic,
    exp.Mod: _arithmetic,
    exp.Div: _arithmetic,
    exp.IntDiv: _int_div,
    exp.Ceil: _ceil_floor,
    exp.Floor: _ceil_floor,
    exp.Sum: _sum,
    exp.Avg: _avg,
    exp.CountIf: _count_if,
    exp.Quantile: _percentile,
    exp.ArraySize: _size,
    exp.ArrayAgg: _collect,
    exp.ArrayUniqueAgg: _collect,
    exp.DateFromUnixDate: wrap("DATE"),
    exp.Factorial: wrap("BIGINT"),
    exp.Format: as_call("printf"),
    exp.ArrayDistinct: as_call("spark_array_distinct"),
    exp.SubstringIndex: as_call("spark_substring_index"),
    exp.Round: _round,
    exp.Ln: _logarithm,
    exp.Log: _logarithm,
    exp.Sign: wrap("DOUBLE"),
    exp.Reverse: _reverse,
    exp.Anonymous: _anonymous,
}
