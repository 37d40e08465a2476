"""Spark's date and time semantics on DuckDB: the rewrites of `translate.py` for dates.

Spark keeps a DATE a DATE (`date_add`, `add_months`, `trunc`, a date plus a day, month or
year interval), reads a date written as a string, counts `dayofweek` from Sunday = 1, gives
`unix_timestamp` as a BIGINT (NULL for unparsable text), computes `months_between` over
31-day months, and maps its own datetime pattern letters; DuckDB does each differently.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from mesh_platform.compile.spark_semantics import MILLIS, QUOTED_TEXT, spark_pattern
from mesh_platform.engine.duckdb.annotate import DIALECT
from mesh_platform.engine.duckdb.nodes import (
    DT,
    as_date,
    call,
    cast_to,
    is_type,
    lit_int,
    replace_node,
)

_DATE_UNITS = {"DAY", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS", "YEAR", "YEARS"}
# Spark's trunc / date_trunc format names -> DuckDB's date part names.


_TRUNC_UNITS = {
    "YEAR": "year", "YYYY": "year", "YY": "year", "QUARTER": "quarter", "MONTH": "month",
    "MM": "month", "MON": "month", "WEEK": "week", "DAY": "day", "DD": "day", "HOUR": "hour",
    "MINUTE": "minute", "SECOND": "second", "MILLISECOND": "millisecond",
    "MICROSECOND": "microsecond",
}  # fmt: skip


def _day_of_week(node: exp.Expr) -> None:
    arg = as_date(node.this)
    replace_node(node, exp.Paren(this=exp.Add(this=exp.DayOfWeek(this=arg), expression=lit_int(1))))


def _date_add(node: exp.Expr) -> None:
    replace_node(node, exp.Cast(this=node.copy(), to=exp.DataType.build("DATE")))


def _add_months(node: exp.AddMonths) -> None:
    shifted = exp.Add(
        this=as_date(node.this),
        expression=exp.Interval(this=node.expression.copy(), unit=exp.var("MONTH")),
    )
    replace_node(node, exp.Cast(this=shifted, to=exp.DataType.build("DATE")))


def interval_arithmetic(node: exp.Add | exp.Sub) -> None:
    left, right = node.this, node.expression
    interval = right if isinstance(right, exp.Interval) else left
    other = left if interval is right else right
    if not isinstance(interval, exp.Interval) or not is_type(other, {DT.DATE}):
        return
    unit = interval.text("unit").upper()
    if unit in _DATE_UNITS:
        replace_node(node, exp.Cast(this=node.copy(), to=exp.DataType.build("DATE")))


def _trunc_unit(node: exp.Expr) -> exp.Expr | None:
    unit = node.args.get("unit")
    text = unit.name.upper() if isinstance(unit, (exp.Literal, exp.Var)) else None
    return exp.Literal.string(_TRUNC_UNITS[text]) if text in _TRUNC_UNITS else None


def _trunc(node: exp.DateTrunc) -> None:
    """trunc(date, fmt): the DATE of the period's start."""
    unit = _trunc_unit(node)
    if unit is None:
        return
    truncated = exp.Anonymous(this="date_trunc", expressions=[unit, as_date(node.this)])
    replace_node(node, exp.Cast(this=truncated, to=exp.DataType.build("DATE")))


def _date_trunc(node: exp.TimestampTrunc) -> None:
    """date_trunc(fmt, ts): the TIMESTAMP of the period's start."""
    unit = _trunc_unit(node)
    if unit is None:
        return
    value = (
        node.this if is_type(node.this, {DT.TIMESTAMP}) else cast_to(node.this.copy(), "TIMESTAMP")
    )
    call = exp.Anonymous(this="date_trunc", expressions=[unit, value])
    replace_node(node, exp.Cast(this=call, to=exp.DataType.build("TIMESTAMP")))


def _date_arg(node: exp.Expr) -> None:
    """Spark reads the argument as a date: a string that is not one gives NULL, not an error."""
    node.set("this", as_date(node.this))


def _to_date(node: exp.TsOrDsToDate) -> None:
    """to_date(s[, fmt]), and the date sqlglot reads a string argument of year(s), datediff,
    ... as: NULL when the text is not a date (Spark, ANSI off), not an error."""
    node.set("safe", True)
    _pattern(node)


def _timestamp_arg(node: exp.Expr) -> None:
    if not is_type(node.this, {DT.TIMESTAMP, DT.TIMESTAMPTZ, DT.DATETIME}):
        node.set("this", cast_to(node.this.copy(), "TIMESTAMP"))


def _months_between(node: exp.MonthsBetween) -> None:
    round_off = node.args.get("roundoff")
    args = [
        cast_to(node.this.copy(), "TIMESTAMP"),
        cast_to(node.expression.copy(), "TIMESTAMP"),
        round_off.copy() if round_off is not None else exp.true(),
    ]
    replace_node(node, exp.Anonymous(this="spark_months_between", expressions=args))


def _unix_timestamp(node: exp.StrToUnix) -> None:
    _pattern(node)
    value = node.this
    if is_type(value, {DT.DATE, DT.TIMESTAMP, DT.DATETIME}):
        seconds: exp.Expr = exp.TimeToUnix(this=cast_to(value.copy(), "TIMESTAMP"))
    else:
        node.set("this", cast_to(value.copy(), "VARCHAR", safe=False))
        text = node.sql(dialect=DIALECT)  # EPOCH(STRPTIME(v, 'fmt')): the Spark pattern mapped
        seconds = exp.maybe_parse(text.replace("STRPTIME(", "TRY_STRPTIME(", 1), dialect=DIALECT)
    replace_node(node, exp.TryCast(this=seconds, to=exp.DataType.build("BIGINT")))


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
        replace_node(node, spark)


def _spark_part(unit: str, value: exp.Expr) -> exp.Expr | None:
    """extract / date_part where Spark differs: DOW counts from Sunday = 1, SECOND keeps its
    fraction (a decimal(8,6)); None where DuckDB agrees."""
    unit = unit.upper()
    if unit in ("DOW", "DAYOFWEEK"):
        day = exp.Extract(this=exp.var("DAYOFWEEK"), expression=value.copy())
        return exp.Paren(this=exp.Add(this=day, expression=lit_int(1)))
    if unit in ("DOW_ISO", "DAYOFWEEK_ISO"):
        return call("isodow")([value])
    if unit in ("S", "SEC", "SECS", "SECOND", "SECONDS"):
        micros = exp.Extract(this=exp.var("MICROSECOND"), expression=value.copy())
        seconds = exp.Div(this=micros, expression=exp.Literal.number("1000000.0"))
        return exp.TryCast(this=seconds, to=exp.DataType.build("DECIMAL(8, 6)"))
    return None


def date_part(args: list[exp.Expr]) -> exp.Expr:
    plain = exp.Anonymous(this="date_part", expressions=[a.copy() for a in args])
    if len(args) != 2 or not isinstance(args[0], exp.Literal):
        return plain
    return _spark_part(args[0].name, args[1]) or plain


def _from_utc(node: exp.AtTimeZone) -> None:
    """from_utc_timestamp(ts, tz): the UTC time `ts` as a local time of `tz` (a TIMESTAMP)."""
    utc = exp.AtTimeZone(this=node.this.copy(), zone=exp.Literal.string("UTC"))
    local = exp.AtTimeZone(this=utc, zone=node.args["zone"].copy())
    replace_node(node, exp.Cast(this=local, to=exp.DataType.build("TIMESTAMP")))


DATE_REWRITES: dict[type[exp.Expr], Callable[..., None]] = {
    exp.DayOfWeek: _day_of_week,
    exp.TsOrDsAdd: _date_add,
    exp.AddMonths: _add_months,
    exp.DateTrunc: _trunc,
    exp.TimestampTrunc: _date_trunc,
    exp.LastDay: _date_arg,
    exp.Quarter: _date_arg,
    exp.NextDay: _date_arg,
    exp.Hour: _timestamp_arg,
    exp.Minute: _timestamp_arg,
    exp.Second: _timestamp_arg,
    exp.MonthsBetween: _months_between,
    exp.StrToUnix: _unix_timestamp,
    exp.StrToTime: _to_timestamp,
    exp.TimeToStr: _pattern,
    exp.TsOrDsToDate: _to_date,
    exp.StrToDate: _pattern,
    exp.UnixToStr: _pattern,
    exp.Extract: _extract,
    exp.AtTimeZone: _from_utc,
}
