"""The builder's common transforms: filter, select/rename, derived column, join, aggregate,
union and free SQL, each a pydantic model (its JSON schema is the block's form) and a
function writing one Spark SQL step.

The SQL is built as a sqlglot tree, never by pasting text: column and table names become
identifiers (quoted when they are not plain lowercase names or are Spark keywords), and the
user's conditions and expressions are parsed as one Spark SQL expression each (a fragment
that does not parse as exactly one expression, e.g. `a) FROM x; --`, is refused). The step
reads the previous result by name (`step_<n>`, a declared `name:`, or the input port for a
first step), as hand-written SQL steps do (docs/product-spec.md).

`check_expression` gives the message `mesh validate` would give for an expression over the
previous result's columns: the same parse, function, reserved-call, column and grouping
checks as a SQL step (`compile/`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Literal

import sqlglot
from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from mesh_platform.builder.errors import BuilderError
from mesh_platform.column_types import UNKNOWN
from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.decryption import decrypt_granted
from mesh_platform.compile.grouping import check_grouping
from mesh_platform.security.policy import reserved_calls

DIALECT = sqlmod.SOURCE_DIALECT
NAME = r"^[a-z][a-z0-9_]{0,62}$"  # a new column's name: as a contract column's name
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
# Markers in a field's JSON schema (read by the palette and the page's form generator):
# `x-mesh-column`: "one" (a column picker), "many" (multi-select), "keys" (a mapping whose keys
# are columns); `x-mesh-of: input` (the columns of the input named by the `input` field, not
# of the previous result); `x-mesh-input` (a picker over the inputs); `x-mesh-expression`
# (an expression editor, checked with `check_expression`).
ONE: dict[str, Any] = {"x-mesh-column": "one"}
MANY: dict[str, Any] = {"x-mesh-column": "many"}
KEYS: dict[str, Any] = {"x-mesh-column": "keys"}
INPUT: dict[str, Any] = {"x-mesh-input": True}
EXPRESSION: dict[str, Any] = {"x-mesh-column": None, "x-mesh-expression": True}
NEW_NAME: dict[str, Any] = {"x-mesh-column": None}  # a new name, not a picker


class BlockRefused(BuilderError):
    """A block's parameters cannot make a step: an unknown column or input, a bad name, an
    expression that does not parse as one expression, parameters its model refuses."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class FilterParams(_Model):
    """Keep the rows where a condition holds."""

    condition: str = Field(
        min_length=1,
        description="a Spark SQL condition over the columns, e.g. amount > 100",
        json_schema_extra=EXPRESSION,
    )


class SelectParams(_Model):
    """Keep some columns, in order, and rename some of them."""

    columns: list[str] = Field(
        min_length=1, description="the columns to keep, in order", json_schema_extra=MANY
    )
    renames: dict[str, str] = Field(
        default_factory=dict,
        description="new names of kept columns: {old: new}",
        json_schema_extra=KEYS,
    )


class DerivedParams(_Model):
    """Add a column computed by an expression (a column of the same name is replaced)."""

    name: str = Field(pattern=NAME, description="the new column's name", json_schema_extra=NEW_NAME)
    expression: str = Field(
        min_length=1,
        description="a Spark SQL expression over the columns, e.g. price * (1 - discount)",
        json_schema_extra=EXPRESSION,
    )


JoinKind = Literal["inner", "left", "right", "full", "semi", "anti"]
_JOIN_SQL = {
    "inner": ("", ""),
    "left": ("LEFT", ""),
    "right": ("RIGHT", ""),
    "full": ("FULL", "OUTER"),
    "semi": ("LEFT", "SEMI"),
    "anti": ("LEFT", "ANTI"),
}


class JoinParams(_Model):
    """Join the previous result with an input on equal keys."""

    input: str = Field(
        description="the input (or earlier step) to join with", json_schema_extra=INPUT
    )
    left_keys: list[str] = Field(
        min_length=1, description="key columns of the previous result", json_schema_extra=MANY
    )
    right_keys: list[str] = Field(
        min_length=1,
        description="key columns of the joined input, in the same order",
        json_schema_extra={**MANY, "x-mesh-of": "input"},
    )
    kind: JoinKind = Field(default="inner", description="inner, left, right, full, semi or anti")


class Measure(_Model):
    """One aggregate: `fn` of `column` (none: count rows) named `as`."""

    column: str | None = Field(
        default=None, description="the column (none: count rows)", json_schema_extra=ONE
    )
    fn: Literal["sum", "avg", "min", "max", "count", "count_distinct"] = "sum"
    as_: str = Field(
        alias="as", pattern=NAME, description="the result column's name", json_schema_extra=NEW_NAME
    )


class AggregateParams(_Model):
    """Group rows by columns and compute measures per group."""

    group_by: list[str] = Field(
        default_factory=list, description="the grouping columns", json_schema_extra=MANY
    )
    measures: list[Measure] = Field(min_length=1, description="the aggregates")


class UnionParams(_Model):
    """Append the rows of an input with the same columns (matched by name)."""

    input: str = Field(description="the input (or earlier step) to append", json_schema_extra=INPUT)
    distinct: bool = Field(default=False, description="drop duplicate rows")


class SqlParams(_Model):
    """A free Spark SQL query over the inputs and earlier steps."""

    sql: str = Field(
        min_length=1, description="one SELECT in Spark SQL", json_schema_extra=EXPRESSION
    )


def ident(name: str) -> exp.Identifier:
    """`name` as an identifier, quoted unless a plain lowercase name that is no keyword."""
    return exp.to_identifier(name, quoted=_needs_quotes(name))


@cache
def _needs_quotes(name: str) -> bool:
    """Whether `name` must be quoted: not a plain name, a keyword, or read otherwise bare."""
    tokenizer = sqlglot.Dialect.get_or_raise(DIALECT).tokenizer_class
    if not _PLAIN.match(name) or name.upper() in tokenizer.KEYWORDS:
        return True
    try:
        query = sqlglot.parse_one(f"SELECT {name}, 1 AS {name} FROM t", read=DIALECT)
    except SqlglotError:
        return True
    selects = query.selects if isinstance(query, exp.Select) else []
    bare = [s.alias_or_name for s in selects] == [name, name]
    return not (bare and isinstance(selects[0], exp.Column))


def column(name: str, table: str | None = None) -> exp.Column:
    """The column `name` (of `table`), as identifiers."""
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def table(name: str, alias: str | None = None) -> exp.Table:
    """The input or step `name` (aliased), as an identifier."""
    found = exp.Table(this=ident(name))
    return found.as_(alias) if alias else found  # type: ignore[return-value]


def expression(text: str) -> exp.Expr:
    """`text` parsed as exactly one Spark SQL expression, not a query; BlockRefused if not."""
    try:
        parsed = sqlglot.parse(text, read=DIALECT)
    except (ParseError, SqlglotError) as exc:
        raise BlockRefused(f"{text!r} does not parse as a Spark SQL expression: {exc}") from None
    nodes = [p for p in parsed if p is not None]
    if len(nodes) != 1 or isinstance(nodes[0], exp.Query | exp.Command | exp.DDL):
        raise BlockRefused(f"{text!r} must be one Spark SQL expression (not a query)")
    return nodes[0]


def require_columns(names: Sequence[str], available: Sequence[str], where: str) -> None:
    missing = [n for n in names if n not in available]
    if missing:
        raise BlockRefused(
            f"unknown column(s) {', '.join(missing)} in {where}; available: "
            f"{', '.join(available) or '(none)'}"
        )


def _input(name: str, inputs: Mapping[str, Sequence[str]]) -> Sequence[str]:
    if name not in inputs:
        raise BlockRefused(f"unknown input {name!r}; this step can read: {', '.join(inputs)}")
    return inputs[name]


def render(query: exp.Query) -> str:
    """The step's SQL text: Spark SQL, one clause a line, function names in lowercase."""
    return query.sql(dialect=DIALECT, pretty=True, normalize_functions="lower") + "\n"


def filter_sql(p: FilterParams, previous: str, columns: Sequence[str], _i: Any) -> str:
    query = exp.select(*(column(c) for c in columns)).from_(table(previous))
    return render(query.where(expression(p.condition)))


def select_sql(p: SelectParams, previous: str, columns: Sequence[str], _i: Any) -> str:
    require_columns([*p.columns, *p.renames], columns, "select")
    require_columns(list(p.renames), p.columns, "renames (rename a kept column)")
    for new in p.renames.values():
        if not re.match(NAME, new):
            raise BlockRefused(f"new name {new!r} must be lowercase snake_case")
    picked = [
        column(c).as_(ident(p.renames[c])) if c in p.renames else column(c) for c in p.columns
    ]
    return render(exp.select(*picked).from_(table(previous)))


def derived_sql(p: DerivedParams, previous: str, columns: Sequence[str], _i: Any) -> str:
    value = expression(p.expression).as_(ident(p.name))
    picked: list[exp.Expr] = [value if c == p.name else column(c) for c in columns]
    if p.name not in columns:
        picked.append(value)
    return render(exp.select(*picked).from_(table(previous)))


def join_sql(
    p: JoinParams, previous: str, columns: Sequence[str], inputs: Mapping[str, Sequence[str]]
) -> str:
    right = _input(p.input, inputs)
    require_columns(p.left_keys, columns, "the join's left keys")
    require_columns(p.right_keys, right, f"the join's right keys (columns of {p.input})")
    if len(p.left_keys) != len(p.right_keys):
        raise BlockRefused("a join needs as many right keys as left keys")
    pairs = list(zip(p.left_keys, p.right_keys, strict=True))
    on = exp.and_(*(exp.EQ(this=column(lk, "l"), expression=column(rk, "r")) for lk, rk in pairs))
    same = {lk for lk, rk in pairs if lk == rk}  # one output column for a key named alike
    picked: list[exp.Expr] = []
    for c in columns:
        if c in same and p.kind in ("right", "full"):
            both = exp.func("coalesce", column(c, "l"), column(c, "r"))
            picked.append(both.as_(ident(c)))
        else:
            picked.append(column(c, "l"))
    if p.kind not in ("semi", "anti"):
        for c in right:
            if c in same:
                continue
            clash = c in columns
            picked.append(column(c, "r").as_(ident(f"{p.input}_{c}")) if clash else column(c, "r"))
    side, kind = _JOIN_SQL[p.kind]
    query = exp.select(*picked).from_(table(previous, "l"))
    query = query.join(table(p.input, "r"), on=on, join_type=" ".join(filter(None, [side, kind])))
    return render(query)


def _measure(m: Measure, columns: Sequence[str]) -> exp.Expr:
    if m.column is None:
        if m.fn != "count":
            raise BlockRefused(f"measure {m.as_!r}: {m.fn} needs a column")
        return exp.Count(this=exp.Star()).as_(ident(m.as_))
    require_columns([m.column], columns, f"measure {m.as_!r}")
    value = column(m.column)
    if m.fn == "count_distinct":
        call: exp.Expr = exp.Count(this=exp.Distinct(expressions=[value]))
    else:
        call = exp.func(m.fn, value)
    return call.as_(ident(m.as_))


def aggregate_sql(p: AggregateParams, previous: str, columns: Sequence[str], _i: Any) -> str:
    require_columns(p.group_by, columns, "group by")
    names = [*p.group_by, *(m.as_ for m in p.measures)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BlockRefused(f"column(s) {', '.join(dupes)} named twice in the aggregate")
    picked = [column(c) for c in p.group_by] + [_measure(m, columns) for m in p.measures]
    query = exp.select(*picked).from_(table(previous))
    if p.group_by:
        query = query.group_by(*(column(c) for c in p.group_by))
    return render(query)


def union_sql(
    p: UnionParams, previous: str, columns: Sequence[str], inputs: Mapping[str, Sequence[str]]
) -> str:
    require_columns(
        columns, _input(p.input, inputs), f"{p.input} (a union matches columns by name)"
    )
    first = exp.select(*(column(c) for c in columns)).from_(table(previous))
    second = exp.select(*(column(c) for c in columns)).from_(table(p.input))
    return render(exp.union(first, second, distinct=p.distinct))


def sql_text(p: SqlParams, _previous: str, _columns: Sequence[str], _i: Any) -> str:
    return p.sql if p.sql.endswith("\n") else p.sql + "\n"


Writer = Callable[[Any, str, Sequence[str], Mapping[str, Sequence[str]]], str]
# name -> (title, parameter model, SQL writer)
TRANSFORMS: dict[str, tuple[str, type[BaseModel], Writer]] = {
    "filter": ("Filter rows", FilterParams, filter_sql),
    "select": ("Select / rename columns", SelectParams, select_sql),
    "derived": ("Derived column", DerivedParams, derived_sql),
    "join": ("Join", JoinParams, join_sql),
    "aggregate": ("Aggregate", AggregateParams, aggregate_sql),
    "union": ("Union", UnionParams, union_sql),
    "sql": ("Free SQL", SqlParams, sql_text),
}


def transform_sql(
    name: str,
    params: Mapping[str, Any],
    previous: str,
    columns: Sequence[str],
    inputs: Mapping[str, Sequence[str]],
) -> str:
    """The Spark SQL of transform `name` over `previous` (whose columns are `columns`)."""
    _title, model, writer = TRANSFORMS[name]
    try:
        parsed = model.model_validate(dict(params))
    except ValueError as exc:
        raise BlockRefused(f"bad parameters for {name}: {exc}") from None
    return writer(parsed, previous, columns, inputs)


def check_expression(text: str, columns: Sequence[str], domain: str | None = None) -> str | None:
    """What `mesh validate` would say of `text` as an expression over `columns` (None: fine).

    The checks of a SQL step (`compile/plan.py` `_plan_sql`): the parse, reserved calls
    (`decrypt_det` unless the access policy grants `domain`), unknown functions and Spark
    idioms no engine answers alike, unknown columns, and aggregates mixed with columns.
    """
    try:
        node = expression(text)
    except BlockRefused as exc:
        return str(exc)
    source = "previous"
    # As a derived column over the previous result: aggregates mixed with columns are caught.
    alias = next(f"value_{n}" for n in range(len(columns) + 1) if f"value_{n}" not in columns)
    picked = [*(column(c) for c in columns), node.as_(alias)]
    sql = render(exp.select(*picked).from_(table(source)))  # as the step's text reads
    try:
        query = sqlmod.parse(sql)
        called = [f.name for f in query.find_all(exp.Anonymous)]
        granted = domain is not None and decrypt_granted(domain)
        reserved = reserved_calls(called, granted)
        if reserved:
            return f"SQL may not call {', '.join(reserved)} here (see `mesh standards`)"
        sqlmod.check_functions(query, sql)
        qualified = sqlmod.validate(query, sql, {source: {c: UNKNOWN for c in columns}})
        check_grouping(qualified, sql)
    except sqlmod.SqlProblem as problem:
        return problem.message
    return None
