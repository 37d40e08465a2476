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
  lacks) become DuckDB expressions or the `spark_*` macros below.

Types come from the tables the query reads (the connection's registered inputs and earlier
steps), so a rewrite that depends on a type (a DATE plus an interval) is made only when known.
What cannot be given Spark's meaning is refused at validate (`compile/spark_semantics.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from sqlglot import exp

from mesh_platform.compile.spark_semantics import MILLIS, QUOTED_TEXT, int_literal, spark_pattern
from mesh_platform.engine.duckdb.annotate import DIALECT, annotate, keep_output_names, schemas

DT = exp.DType
_INTEGRAL = {DT.TINYINT, DT.SMALLINT, DT.INT, DT.BIGINT}
_INTEGER_LIKE = _INTEGRAL | {DT.INT128, DT.UTINYINT, DT.USMALLINT, DT.UINT, DT.UBIGINT}
_FLOATING = {DT.FLOAT, DT.DOUBLE}
_DATE_UNITS = {"DAY", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS", "YEAR", "YEARS"}
# Spark's trunc / date_trunc format names -> DuckDB's date part names.
_TRUNC_UNITS = {
    "YEAR": "year", "YYYY": "year", "YY": "year", "QUARTER": "quarter", "MONTH": "month",
    "MM": "month", "MON": "month", "WEEK": "week", "DAY": "day", "DD": "day", "HOUR": "hour",
    "MINUTE": "minute", "SECOND": "second", "MILLISECOND": "millisecond",
    "MICROSECOND": "microsecond",
}  # fmt: skip

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


def _is(node: exp.Expr, types: set[DT]) -> bool:
    return node.type is not None and node.type.this in types


def _known(node: exp.Expr) -> bool:
    return node.type is not None and node.type.this != DT.UNKNOWN


def _replace(node: exp.Expr, new: exp.Expr) -> None:
    new.type = node.type
    node.replace(new)


def _cast(node: exp.Expr, to: str, safe: bool = True) -> exp.Expr:
    cls = exp.TryCast if safe else exp.Cast
    return cls(this=node, to=exp.DataType.build(to))


def _as_date(node: exp.Expr) -> exp.Expr:
    """`node` as a DATE: Spark reads a string or timestamp argument of a date function so."""
    return node if _is(node, {DT.DATE}) else _cast(node.copy(), "DATE")


def _outer(node: exp.Expr) -> exp.Expr:
    """The whole call around an aggregate: its window and FILTER, which a cast must wrap."""
    while isinstance(node.parent, (exp.Window, exp.Filter, exp.IgnoreNulls, exp.RespectNulls)):
        node = node.parent
    return node


def _integral_cast(node: exp.Cast) -> None:
    target = node.to.this
    operand = node.this
    if target not in _INTEGRAL or _is(operand, _INTEGER_LIKE | {DT.BOOLEAN}):
        return
    if _is(operand, _FLOATING) or _is(operand, {DT.DECIMAL}):
        number = operand.copy()
    else:  # a string (or unknown): Spark reads '1.9' as 1
        number = _cast(operand.copy(), "DECIMAL(38, 9)")
    node.set("this", exp.Anonymous(this="trunc", expressions=[number]))
    if not isinstance(node, exp.TryCast):
        _replace(node, exp.TryCast(this=node.this, to=node.to))


def _day_of_week(node: exp.Expr) -> None:
    arg = _as_date(node.this)
    _replace(node, exp.Paren(this=exp.Add(this=exp.DayOfWeek(this=arg), expression=_int(1))))


def _date_add(node: exp.Expr) -> None:
    _replace(node, exp.Cast(this=node.copy(), to=exp.DataType.build("DATE")))


def _add_months(node: exp.AddMonths) -> None:
    shifted = exp.Add(
        this=_as_date(node.this),
        expression=exp.Interval(this=node.expression.copy(), unit=exp.var("MONTH")),
    )
    _replace(node, exp.Cast(this=shifted, to=exp.DataType.build("DATE")))


_STRINGS = {DT.VARCHAR, DT.TEXT, DT.CHAR, DT.NCHAR, DT.NVARCHAR}
_NUMBERS = _INTEGER_LIKE | _FLOATING | {DT.DECIMAL}


def _arithmetic(node: exp.Binary) -> None:
    """Spark reads a string operand of arithmetic as a double ('1.5' + 1 is 2.5)."""
    left, right = node.this, node.expression
    for text, other in ((left, right), (right, left)):
        if _is(text, _STRINGS) and _is(other, _NUMBERS):
            text.replace(_cast(text.copy(), "DOUBLE"))
    if isinstance(node, (exp.Add, exp.Sub)):
        _interval_arithmetic(node)
    elif isinstance(node, exp.Div):
        _div(node)


def _interval_arithmetic(node: exp.Add | exp.Sub) -> None:
    left, right = node.this, node.expression
    interval = right if isinstance(right, exp.Interval) else left
    other = left if interval is right else right
    if not isinstance(interval, exp.Interval) or not _is(other, {DT.DATE}):
        return
    unit = interval.text("unit").upper()
    if unit in _DATE_UNITS:
        _replace(node, exp.Cast(this=node.copy(), to=exp.DataType.build("DATE")))


def _trunc_unit(node: exp.Expr) -> exp.Expr | None:
    unit = node.args.get("unit")
    text = unit.name.upper() if isinstance(unit, (exp.Literal, exp.Var)) else None
    return exp.Literal.string(_TRUNC_UNITS[text]) if text in _TRUNC_UNITS else None


def _trunc(node: exp.DateTrunc) -> None:
    """trunc(date, fmt): the DATE of the period's start."""
    unit = _trunc_unit(node)
    if unit is None:
        return
    call = exp.Anonymous(this="date_trunc", expressions=[unit, _as_date(node.this)])
    _replace(node, exp.Cast(this=call, to=exp.DataType.build("DATE")))


def _date_trunc(node: exp.TimestampTrunc) -> None:
    """date_trunc(fmt, ts): the TIMESTAMP of the period's start."""
    unit = _trunc_unit(node)
    if unit is None:
        return
    value = node.this if _is(node.this, {DT.TIMESTAMP}) else _cast(node.this.copy(), "TIMESTAMP")
    call = exp.Anonymous(this="date_trunc", expressions=[unit, value])
    _replace(node, exp.Cast(this=call, to=exp.DataType.build("TIMESTAMP")))


def _date_arg(node: exp.Expr) -> None:
    node.set("this", _as_date(node.this))


def _timestamp_arg(node: exp.Expr) -> None:
    if not _is(node.this, {DT.TIMESTAMP, DT.TIMESTAMPTZ, DT.DATETIME}):
        node.set("this", _cast(node.this.copy(), "TIMESTAMP"))


def _months_between(node: exp.MonthsBetween) -> None:
    round_off = node.args.get("roundoff")
    args = [
        _cast(node.this.copy(), "TIMESTAMP"),
        _cast(node.expression.copy(), "TIMESTAMP"),
        round_off.copy() if round_off is not None else exp.true(),
    ]
    _replace(node, exp.Anonymous(this="spark_months_between", expressions=args))


def _unix_timestamp(node: exp.StrToUnix) -> None:
    _pattern(node)
    value = node.this
    if _is(value, {DT.DATE, DT.TIMESTAMP, DT.DATETIME}):
        seconds: exp.Expr = exp.TimeToUnix(this=_cast(value.copy(), "TIMESTAMP"))
    else:
        node.set("this", _cast(value.copy(), "VARCHAR", safe=False))
        text = node.sql(dialect=DIALECT)  # EPOCH(STRPTIME(v, 'fmt')): the Spark pattern mapped
        seconds = exp.maybe_parse(text.replace("STRPTIME(", "TRY_STRPTIME(", 1), dialect=DIALECT)
    _replace(node, exp.TryCast(this=seconds, to=exp.DataType.build("BIGINT")))


def _int_div(node: exp.IntDiv) -> None:
    if _is(node.this, _INTEGER_LIKE) and _is(node.expression, _INTEGER_LIKE):
        divided: exp.Expr = node.copy()
    else:
        quotient = exp.Div(this=node.this.copy(), expression=node.expression.copy())
        divided = exp.Anonymous(this="trunc", expressions=[quotient])
    _replace(node, exp.TryCast(this=divided, to=exp.DataType.build("BIGINT")))


def _is_decimal(node: exp.Expr) -> bool:
    """A DECIMAL for Spark: typed so, or a literal like 2.5 (sqlglot types it DOUBLE)."""
    if isinstance(node, (exp.Neg, exp.Paren)):
        return _is_decimal(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return "." in node.name and "e" not in node.name.lower()
    return _is(node, {DT.DECIMAL})


def _ceil_floor(node: exp.Ceil | exp.Floor) -> None:
    digits = node.args.get("decimals")
    if digits is None:
        if _known(node.this) and not _is_decimal(node.this):
            _replace(node, exp.TryCast(this=node.copy(), to=exp.DataType.build("BIGINT")))
        return
    if isinstance(digits, exp.Literal) and digits.is_int:  # Spark: a decimal of that scale
        scale = max(int(digits.name), 0)
        decimal = exp.DataType.build(f"DECIMAL(38, {scale})")
        _replace(node, exp.TryCast(this=node.copy(), to=decimal))


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
    if (
        left is None
        or right is None
        or not (_is_decimal(node.this) or _is_decimal(node.expression))
    ):
        return
    (p1, s1), (p2, s2) = left, right
    scale = max(6, s1 + p2 + 1)
    decimal = exp.DataType.build(_bounded(p1 - s1 + s2 + scale, scale))
    _replace(node, exp.TryCast(this=node.copy(), to=decimal))


def _avg(node: exp.Avg) -> None:
    """avg of a decimal(p, s) is a decimal(p + 4, s + 4) on Spark; DuckDB: double."""
    shape = _decimal_shape(node.this) if _is(node.this, {DT.DECIMAL}) else None
    if shape is not None:
        whole = _outer(node)
        decimal = exp.DataType.build(f"DECIMAL({min(shape[0] + 4, 38)}, {min(shape[1] + 4, 38)})")
        _replace(whole, exp.TryCast(this=whole.copy(), to=decimal))


def _sum(node: exp.Sum) -> None:
    if _is(node.this, _INTEGER_LIKE):
        whole = _outer(node)
        _replace(whole, exp.TryCast(this=whole.copy(), to=exp.DataType.build("BIGINT")))


def _substring(node: exp.Substring) -> None:
    """Spark reads position 0 as 1 (DuckDB as the place before the first character)."""
    start = node.args.get("start")
    if start is None or int_literal(start) not in (0, None):
        return
    if int_literal(start) == 0:
        node.set("start", _int(1))
        return
    zero = exp.EQ(this=start.copy(), expression=_int(0))
    node.set("start", exp.If(this=zero, true=_int(1), false=start.copy()))


def _int(value: int) -> exp.Literal:
    return exp.Literal(this=str(value), is_string=False)


def _split(node: exp.RegexpSplit) -> None:
    """split(str, regex, limit <= 0) is split without a limit (a positive one is refused)."""
    limit = node.args.get("limit")
    value = int_literal(limit) if limit is not None else None
    if value is not None and value <= 0:
        node.set("limit", None)


def _to_timestamp(node: exp.StrToTime) -> None:
    """to_timestamp(text, fmt) is NULL when the text does not parse (Spark, ANSI off)."""
    node.set("safe", True)
    _pattern(node)


def _pattern(node: exp.Expr) -> None:
    """The parts of a Spark datetime pattern sqlglot leaves as they are: quoted literal text
    ('T' -> T, '' -> ') and milliseconds (SSS -> %g). Other letters are refused at validate."""
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return
    text = QUOTED_TEXT.sub(lambda quoted: quoted.group(1) or "'", spark_pattern(fmt.name))
    node.set("format", exp.Literal.string(MILLIS.sub("%g", text)))


def _extract(node: exp.Extract) -> None:
    spark = _spark_part(node.this.name, node.expression)
    if spark is not None:
        _replace(node, spark)


def _spark_part(unit: str, value: exp.Expr) -> exp.Expr | None:
    """extract / date_part where Spark differs: DOW counts from Sunday = 1, SECOND keeps its
    fraction (a decimal(8,6)); None where DuckDB agrees."""
    unit = unit.upper()
    if unit in ("DOW", "DAYOFWEEK"):
        day = exp.Extract(this=exp.var("DAYOFWEEK"), expression=value.copy())
        return exp.Paren(this=exp.Add(this=day, expression=_int(1)))
    if unit in ("DOW_ISO", "DAYOFWEEK_ISO"):
        return _call("isodow")([value])
    if unit in ("S", "SEC", "SECS", "SECOND", "SECONDS"):
        micros = exp.Extract(this=exp.var("MICROSECOND"), expression=value.copy())
        seconds = exp.Div(this=micros, expression=exp.Literal.number("1000000.0"))
        return exp.TryCast(this=seconds, to=exp.DataType.build("DECIMAL(8, 6)"))
    return None


def _date_part(args: list[exp.Expr]) -> exp.Expr:
    plain = exp.Anonymous(this="date_part", expressions=[a.copy() for a in args])
    if len(args) != 2 or not isinstance(args[0], exp.Literal):
        return plain
    return _spark_part(args[0].name, args[1]) or plain


def _from_utc(node: exp.AtTimeZone) -> None:
    """from_utc_timestamp(ts, tz): the UTC time `ts` as a local time of `tz` (a TIMESTAMP)."""
    utc = exp.AtTimeZone(this=node.this.copy(), zone=exp.Literal.string("UTC"))
    local = exp.AtTimeZone(this=utc, zone=node.args["zone"].copy())
    _replace(node, exp.Cast(this=local, to=exp.DataType.build("TIMESTAMP")))


def _nanvl(node: exp.Nanvl) -> None:
    nan = _call("isnan")([node.this])
    _replace(node, exp.If(this=nan, true=node.expression.copy(), false=node.this.copy()))


def _size(node: exp.ArraySize) -> None:
    """size(NULL) is -1 (Spark's default, spark.sql.legacy.sizeOfNull)."""
    _replace(node, exp.Coalesce(this=node.copy(), expressions=[_int(-1)]))


def _collect(node: exp.ArrayAgg | exp.ArrayUniqueAgg) -> None:
    """collect_list / collect_set of no value (or only NULLs) is [], not NULL."""
    whole = _outer(node)
    if not isinstance(whole, exp.Window):
        _replace(whole, exp.Coalesce(this=whole.copy(), expressions=[exp.Array(expressions=[])]))


def _wrap(to: str) -> Callable[[exp.Expr], None]:
    def rewrite(node: exp.Expr) -> None:
        _replace(node, exp.TryCast(this=node.copy(), to=exp.DataType.build(to)))

    return rewrite


def _as_call(name: str) -> Callable[[exp.Expr], None]:
    def rewrite(node: exp.Expr) -> None:
        args = [node.this, *node.expressions] if node.expressions else list(node.iter_expressions())
        _replace(node, _call(name)(args))

    return rewrite


def _anonymous(node: exp.Anonymous) -> None:
    rewrite = _ANONYMOUS.get(node.name.lower())
    if rewrite is None:
        return
    new = rewrite(list(node.expressions))
    _replace(node, new)
    typed = _REWRITES.get(type(new))
    if typed is not None and typed is not _anonymous:  # e.g. try_sum is a sum
        typed(new)


def _call(name: str) -> Callable[[list[exp.Expr]], exp.Expr]:
    return lambda args: exp.Anonymous(this=name, expressions=[a.copy() for a in args])


# Spark built-ins sqlglot leaves anonymous (compile/functions.py) that DuckDB lacks or means
# otherwise, as DuckDB expressions.
_ANONYMOUS: dict[str, Callable[[list[exp.Expr]], exp.Expr]] = {
    "isnull": lambda a: exp.Is(this=a[0].copy(), expression=exp.null()),
    "isnotnull": lambda a: exp.Not(this=exp.Is(this=a[0].copy(), expression=exp.null())),
    "pmod": _call("spark_pmod"),
    "bround": lambda a: exp.Anonymous(
        this="round_even", expressions=[a[0].copy(), a[1].copy() if len(a) > 1 else _int(0)]
    ),
    "weekday": lambda a: exp.Paren(
        this=exp.Sub(this=_call("isodow")([_as_date(a[0])]), expression=_int(1))
    ),
    "find_in_set": _call("spark_find_in_set"),
    "arrays_overlap": _call("list_has_any"),
    "btrim": _call("trim"),
    "cardinality": _call("len"),
    "expm1": lambda a: exp.Sub(this=exp.Exp(this=a[0].copy()), expression=_int(1)),
    "log1p": lambda a: exp.Ln(this=exp.Add(this=_int(1), expression=a[0].copy())),
    "now": lambda a: exp.Cast(this=exp.CurrentTimestamp(), to=exp.DataType.build("TIMESTAMP")),
    "timestamp_millis": _call("epoch_ms"),
    "timestamp_seconds": lambda a: exp.Cast(
        this=exp.Anonymous(this="to_timestamp", expressions=[a[0].copy()]),
        to=exp.DataType.build("TIMESTAMP"),
    ),
    "std": _call("stddev"),
    "every": _call("bool_and"),
    "some": _call("bool_or"),
    "try_sum": lambda a: exp.Sum(this=a[0].copy()),
    "try_avg": _call("avg"),
    "datepart": _date_part,
    "date_part": _date_part,
}

_REWRITES: dict[type[exp.Expr], Callable[..., None]] = {
    exp.Cast: _integral_cast,
    exp.TryCast: _integral_cast,
    exp.DayOfWeek: _day_of_week,
    exp.TsOrDsAdd: _date_add,
    exp.AddMonths: _add_months,
    exp.Add: _arithmetic,
    exp.Sub: _arithmetic,
    exp.Mul: _arithmetic,
    exp.Mod: _arithmetic,
    exp.DateTrunc: _trunc,
    exp.TimestampTrunc: _date_trunc,
    exp.LastDay: _date_arg,
    exp.Hour: _timestamp_arg,
    exp.Minute: _timestamp_arg,
    exp.Second: _timestamp_arg,
    exp.Quarter: _date_arg,
    exp.MonthsBetween: _months_between,
    exp.StrToUnix: _unix_timestamp,
    exp.IntDiv: _int_div,
    exp.Ceil: _ceil_floor,
    exp.Floor: _ceil_floor,
    exp.Sum: _sum,
    exp.Avg: _avg,
    exp.Div: _arithmetic,
    exp.Extract: _extract,
    exp.AtTimeZone: _from_utc,
    exp.Nanvl: _nanvl,
    exp.ArraySize: _size,
    exp.ArrayAgg: _collect,
    exp.ArrayUniqueAgg: _collect,
    exp.NextDay: _date_arg,
    exp.DateFromUnixDate: _wrap("DATE"),
    exp.Factorial: _wrap("BIGINT"),
    exp.Format: _as_call("printf"),
    exp.ArrayDistinct: _as_call("spark_array_distinct"),
    exp.SubstringIndex: _as_call("spark_substring_index"),
    exp.Substring: _substring,
    exp.RegexpSplit: _split,
    exp.StrToTime: _to_timestamp,
    exp.TimeToStr: _pattern,
    exp.TsOrDsToDate: _pattern,
    exp.StrToDate: _pattern,
    exp.UnixToStr: _pattern,
    exp.Anonymous: _anonymous,
}
