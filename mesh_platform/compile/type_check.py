"""Declared column types checked at load against the types the SQL certainly produces.

sqlglot's `annotate_types` gives every expression a type, but not always Spark's: `CASE WHEN
c THEN 1 ELSE 'a' END` is annotated int (Spark: string), `d1 - d2` date (Spark: an interval),
`floor(x)` double (Spark: bigint). So only expressions whose Spark type is certain from their
form count: casts, literals, comparisons, string functions, counts, divisions and averages,
arithmetic over certain numbers, and columns of inputs with a known type, followed through
earlier steps and CTEs. Anything else is `None` (unknown) and never refused.

A declared type is refused when the certain type is of another family (text declared as a
date, a sum declared as a string) with the run-time contract check's message
(`run/conform.py`), and when an integer type is declared for a certainly fractional number (a
division, an average, a double) with the message the run-time cast gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from mesh_platform.column_types import UNKNOWN, Schema, family, from_sqlglot
from mesh_platform.compile.lineage import LineageStep, compose
from mesh_platform.compile.sql import SOURCE_DIALECT, referenced_tables, sqlglot_schema

INTEGER_TYPES = ("bigint", "int", "smallint", "tinyint")


def _classes(*names: str) -> tuple[type[exp.Expr], ...]:
    return tuple(c for n in names if isinstance(c := getattr(exp, n, None), type))


_BOOLEAN = _classes("Predicate", "Connector", "Not")
_CONCAT = _classes("Concat", "DPipe")  # text, or an array when its arguments are arrays
_STRING = _classes(
    "Upper",
    "Lower",
    "ConcatWs",
    "Substring",
    "Trim",
    "Initcap",
    "MD5",
    "SHA",
    "SHA2",
    "Pad",
    "RegexpExtract",
    "RegexpReplace",
    "TimeToStr",
    "UnixToStr",
    "Left",
    "Right",
    "Repeat",
    "Translate",
    "Replace",
)
_INTEGER = _classes(
    "Count",
    "CountIf",
    "ApproxDistinct",
    "RowNumber",
    "Rank",
    "DenseRank",
    "Ntile",
    "Length",
    "Year",
    "Month",
    "Day",
    "DayOfMonth",
    "DayOfWeek",
    "DayOfYear",
    "WeekOfYear",
    "Quarter",
    "Hour",
    "Minute",
    "DateDiff",
    "ArraySize",
    "Ascii",
    "StrPosition",
    "Floor",
    "Ceil",
    "IntDiv",
)
_FRACTIONAL = _classes(
    "Div",
    "Avg",
    "Stddev",
    "StddevPop",
    "StddevSamp",
    "Variance",
    "VariancePop",
    "Corr",
    "CovarPop",
    "CovarSamp",
    "Sqrt",
    "Cbrt",
    "Exp",
    "Ln",
    "Log",
    "Pow",
    "Rand",
    "Randn",
    "MonthsBetween",
)
_DATE = _classes("CurrentDate", "TsOrDsToDate", "StrToDate", "LastDay", "DateFromParts")
_TIMESTAMP = _classes("CurrentTimestamp", "StrToTime")
_ARITHMETIC = _classes("Add", "Sub", "Mul", "Mod")
_SAME_AS_ARGUMENT = _classes("Abs", "Neg", "Min", "Max", "Round")


@dataclass(frozen=True)
class CertainType:
    """A column's type as Spark certainly computes it: its name, and whether it has fractions."""

    type: str
    fractional: bool = False

    @property
    def family(self) -> str | None:
        """The type's family (number, string, time, boolean)."""
        return family(self.type)


@dataclass(frozen=True)
class Contradiction:
    """A declared type the SQL certainly does not produce, in the run-time check's words."""

    column: str
    message: str
    fix: str


def certain_types(
    steps: Sequence[LineageStep], input_schemas: Mapping[str, Schema | None]
) -> dict[str, CertainType]:
    """Output column -> its certain type, for the columns where it is certain.

    The trailing run of SQL steps is composed into one query (earlier steps of the run as
    CTEs); what they read (inputs, earlier Python or standard steps) is typed by its schema.
    """
    run: list[LineageStep] = []
    for step in reversed(steps):
        if step.query is None:
            break
        run.insert(0, step)
    if not run:
        return {}
    tables = {k: v for k, v in input_schemas.items() if v is not None}
    tables.update({s.name: s.output for s in steps[: len(steps) - len(run)] if s.output})
    try:
        query = compose(run)
        known = all(t.name in tables for t in referenced_tables(query))
        if known:  # qualified columns can be followed to their source
            query = qualify(
                query,
                schema=sqlglot_schema(tables),
                dialect=SOURCE_DIALECT,
                validate_qualify_columns=False,
                quote_identifiers=False,
            )
        query = annotate_types(query, schema=sqlglot_schema(tables, keep_unknown=True))
        scope = build_scope(query)
    except (SqlglotError, KeyError, ValueError):
        return {}
    if scope is None or not isinstance(query, exp.Select):
        return {}
    found = {}
    for select in query.selects:
        certain = _infer(select, scope, tables)
        if certain is not None:
            found[select.alias_or_name] = certain
    return found


def contradiction(
    column: str, declared: str, certain: CertainType, product: str
) -> Contradiction | None:
    """The contradiction between a declared type and the certain one, if they contradict."""
    if certain.family is not None and certain.family != family(declared):
        return Contradiction(
            column,
            f"{product} breaks its contract: column {column!r} is {certain.type} but the "
            f"contract says {declared}; CAST it in the last step or correct the declared type",
            f"select `CAST(... AS {declared.upper()}) AS {column}` in the last step, or declare "
            f"`type: {certain.type}`",
        )
    if declared in INTEGER_TYPES and certain.fractional:
        return Contradiction(
            column,
            f"{product}: column {column!r} does not fit its declared type {declared} (the SQL "
            f"computes a fractional {certain.type}); widen the declared type or round/CAST in "
            "the last step",
            f"declare `type: {certain.type}`, or select `CAST(... AS {declared.upper()}) AS "
            f"{column}` (or round it) in the last step",
        )
    return None


def _infer(node: exp.Expr, scope: Scope, tables: Mapping[str, Schema]) -> CertainType | None:
    if isinstance(node, exp.Alias | exp.Paren):
        return _infer(node.this, scope, tables)
    if isinstance(node, exp.Cast):  # TryCast is a Cast
        target = from_sqlglot(node.to)
        return None if target == UNKNOWN else CertainType(target, _has_fraction(target))
    if isinstance(node, exp.Literal):
        if node.is_string:
            return CertainType("string")
        fractional = any(c in node.this.lower() for c in ".e")
        return CertainType("double" if fractional else "int", fractional)
    if isinstance(node, (exp.Boolean, *_BOOLEAN)):
        return CertainType("boolean")
    if isinstance(node, _STRING):
        return CertainType("string")
    if isinstance(node, _CONCAT):
        # Text when one argument is certainly text (Spark refuses mixing it with arrays) or
        # every argument is certainly typed (none is an array: arrays are not contract types).
        parts = [_infer(a, scope, tables) for a in _arguments(node)]
        if any(p is not None and p.family == "string" for p in parts) or all(parts):
            return CertainType("string")
        return None
    if isinstance(node, _INTEGER):
        annotated = _annotated(node)
        return CertainType(annotated if annotated in INTEGER_TYPES else "bigint")
    if isinstance(node, _FRACTIONAL):
        annotated = _annotated(node)
        return CertainType(annotated if family(annotated) == "number" else "double", True)
    if isinstance(node, _DATE):
        return CertainType("date")
    if isinstance(node, _TIMESTAMP):
        return CertainType("timestamp")
    if isinstance(node, _ARITHMETIC):
        left = _infer(node.args["this"], scope, tables)
        right = _infer(node.args["expression"], scope, tables)
        if left is None or right is None:
            return None
        if left.family != "number" or right.family != "number":
            return None
        fractional = left.fractional or right.fractional
        return CertainType("double" if fractional else _widest(left, right), fractional)
    if isinstance(node, exp.Sum):
        argument = _infer(node.this, scope, tables)
        return argument if argument is not None and argument.family == "number" else None
    if isinstance(node, _SAME_AS_ARGUMENT):
        argument = _infer(node.this, scope, tables)
        if isinstance(node, exp.Round) and argument is not None:
            return CertainType(argument.type, False)  # rounding may remove the fraction
        return argument
    if isinstance(node, exp.Window):
        return _infer(node.this, scope, tables)
    if isinstance(node, exp.Coalesce | exp.Case | exp.If):
        return _common(_branches(node), scope, tables)
    if isinstance(node, exp.Column):
        return _column(node, scope, tables)
    return None


def _arguments(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Concat):
        return list(node.expressions)
    return [node.args["this"], node.args["expression"]]


def _branches(node: exp.Expr) -> list[exp.Expr | None]:
    if isinstance(node, exp.Coalesce):
        return [node.this, *node.expressions]
    if isinstance(node, exp.Case):
        return [i.args["true"] for i in node.args.get("ifs") or []] + [node.args.get("default")]
    return [node.args.get("true"), node.args.get("false")]


def _common(
    branches: list[exp.Expr | None], scope: Scope, tables: Mapping[str, Schema]
) -> CertainType | None:
    """The type of a CASE/IF/COALESCE when every (non-null) branch has one of one family."""
    found = []
    for branch in branches:
        if branch is None or isinstance(branch, exp.Null):
            continue
        certain = _infer(branch, scope, tables)
        if certain is None:
            return None
        found.append(certain)
    if not found or len({c.family for c in found}) != 1:
        return None
    fractional = any(c.fractional for c in found)
    return next((c for c in found if c.fractional), found[0]) if fractional else found[0]


def _column(column: exp.Column, scope: Scope, tables: Mapping[str, Schema]) -> CertainType | None:
    """A column followed to its source: a CTE's or subquery's select, or an input's type."""
    source = scope.sources.get(column.table) if column.table else None
    if isinstance(source, Scope):
        query = source.expression
        if not isinstance(query, exp.Select):
            return None
        for select in query.selects:
            if select.alias_or_name == column.name:
                return _infer(select, source, tables)
        return None
    if isinstance(source, exp.Table):
        typ = tables.get(source.name, {}).get(column.name, UNKNOWN)
        # An input column's numbers are not held to be fractional: its type may be inferred.
        return None if typ == UNKNOWN else CertainType(typ)
    return None


def _annotated(node: exp.Expr) -> str:
    return from_sqlglot(node.type) if node.type is not None else UNKNOWN


def _has_fraction(type_name: str) -> bool:
    if type_name in ("double", "float"):
        return True
    return type_name.startswith("decimal") and not type_name.endswith(",0)")


def _widest(left: CertainType, right: CertainType) -> str:
    order = ["tinyint", "smallint", "int", "bigint"]
    if left.type in order and right.type in order:
        return max(left.type, right.type, key=order.index)
    return left.type if left.type not in order else right.type
