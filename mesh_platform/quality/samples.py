"""What the platform shows of a product's values: as a reader of another domain without
clearance sees them.

Anyone who can open the Dagster UI or the web catalog reads a materialization's sample rows and
each check's failing sample, so both are shown through `access.policy.uncleared_view`: a
column the policy masks reads through its masking step, run by the product's engine; a hidden
column, one whose mask cannot run here (a keyed step without the keys) and a `pii` column no
rule covers are left out; a product no such reader may read shows no values at all.

A failing sample is kept masked where it is made (`failing_sample`, by the quality gate), so
the check's metadata, its description, the run's failure, `mesh show` and the web catalog all
read the same masked values; nothing stores the clear ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mesh_platform.column_types import from_arrow
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.spec.model import ProductSpec, QualityRule

if TYPE_CHECKING:
    from mesh_platform.access.policy import ColumnAccess
    from mesh_platform.engine import Engine

PREVIEW_ROWS = 5
# On a check's metadata: the sample is shown as a reader without clearance sees it.
SAMPLE_VIEW = "mesh/sample_view"
UNCLEARED_VIEW = "reader without clearance"
SAMPLE_MASKED = "mesh/sample_masked"


def preview_markdown(table: pa.Table, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as a markdown table."""
    head = table.slice(0, rows).to_pylist()
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for row in head:
        lines.append("| " + " | ".join(str(row[n]).replace("|", "\\|") for n in names) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Sample:
    """The sample rows shown of a product, and what was protected in them.

    `table` is None when the policy lets no reader without clearance read the product.
    `protected` maps each masked or left-out column to how, for people.
    """

    table: pa.Table | None
    protected: dict[str, str]
    because: str = ""

    def markdown(self) -> str:
        """The sample as markdown, after a line saying what was masked or left out."""
        if self.table is None:
            return f"_No sample rows: {self.because}._"
        if not self.protected:
            return preview_markdown(self.table)
        said = "; ".join(f"{column} {how}" for column, how in self.protected.items())
        return f"_As a reader without clearance sees it: {said}._\n\n" + preview_markdown(
            self.table
        )


def reader_sample(
    spec: ProductSpec,
    plan: ProductPlan,
    table: pa.Table,
    engine: Engine | None = None,
    rows: int = PREVIEW_ROWS,
) -> Sample:
    """The first `rows` rows as a reader of another domain without clearance sees them."""
    head = table.slice(0, rows)
    tags = {c.name: c.tags for c in plan.columns if c.name in head.column_names}
    return uncleared_rows(spec, head, tags, {c.name: c.type for c in plan.columns}, engine)


def uncleared_rows(
    spec: ProductSpec,
    table: pa.Table,
    tags: Mapping[str, tuple[str, ...]],
    types: Mapping[str, str],
    engine: Engine | None = None,
) -> Sample:
    """`table` (rows of `spec`'s product, each column with its `tags`) as a reader of another
    domain without clearance sees it.

    Columns the access policy masks are computed through its masking step by `engine` (the
    product's when None); hidden ones, and masked ones whose step cannot run here, are left out.
    """
    from mesh_platform.access.policy import uncleared_view

    view = uncleared_view(spec.domain, dict(tags), spec.tags, types)
    if not view.readable:
        return Sample(None, {}, view.because)
    protected = view.masked()
    if not protected:
        return Sample(table, {})
    masks = {c: a for c, a in protected.items() if a.action == "masked" and a.step is not None}
    left_out = {c: f"left out ({a.because})" for c, a in protected.items() if c not in masks}
    kept = table.drop_columns(list(left_out))
    try:
        shown = _masked(spec, kept, masks, types, engine)
    except Exception:  # no mask, no value: showing a sample never fails a run
        left_out |= {c: f"left out ({a.because}; its mask did not run)" for c, a in masks.items()}
        return Sample(kept.drop_columns(list(masks)), left_out)
    said = {c: f"masked ({a.step.use if a.step else ''}: {a.because})" for c, a in masks.items()}
    return Sample(shown, said | left_out)


def _masked(
    spec: ProductSpec,
    table: pa.Table,
    masks: dict[str, ColumnAccess],
    types: Mapping[str, str],
    engine: Engine | None,
) -> pa.Table:
    """`table` with the `masks` columns computed through their masking steps."""
    from mesh_platform.access.masking import input_mask
    from mesh_platform.access.policy import UNCLEARED, ProductAccess
    from mesh_platform.column_types import from_arrow
    from mesh_platform.engine import get_engine

    if not masks:
        return table
    schema = {f.name: types.get(f.name) or from_arrow(f.type) for f in table.schema}
    access = ProductAccess(UNCLEARED, True, tuple(masks.values()))
    mask = input_mask("sample", schema, access)
    assert mask is not None  # `masks` is not empty
    engine = engine or get_engine(spec.engine)
    return engine.query(f"SELECT {', '.join(mask.select)} FROM sample", {"sample": table})


@dataclass(frozen=True)
class FailingSample:
    """A check's failing sample as shown: the values, and each protected column and how."""

    values: list[Any]
    protected: dict[str, str]


def failing_sample(
    spec: ProductSpec,
    plan: ProductPlan,
    rule: QualityRule,
    values: list[Any],
    schema: pa.Schema,
    engine: Engine | None = None,
) -> FailingSample:
    """`values` (the failing sample of `rule` on `spec`'s product, whose result has `schema`)
    as a reader of another domain without clearance sees them.

    A column rule's sample is values of its column; a compound `unique`'s, keys as rows; a
    `sql` rule's, the rows its query returned: each of their columns is protected as the
    product columns it is computed from (`sql_sample_tags`).
    """
    if not values or rule.rule == "row_count":  # a count is no value of the product
        return FailingSample(values, {})
    try:
        return _failing_sample(spec, plan, rule, values, schema, engine)
    except Exception as exc:  # showing a sample never fails a run: no mask, no value
        from mesh_platform.access.policy import uncleared_view

        tags = {c.name: c.tags for c in plan.columns}
        view = uncleared_view(spec.domain, tags, spec.tags)
        if view.readable and not view.masked():
            return FailingSample(values, {})
        return FailingSample([], {"*": f"not shown (it could not be masked: {type(exc).__name__})"})


def _failing_sample(
    spec: ProductSpec,
    plan: ProductPlan,
    rule: QualityRule,
    values: list[Any],
    schema: pa.Schema,
    engine: Engine | None,
) -> FailingSample:
    types = {c.name: c.type for c in plan.columns}
    tags = {c.name: c.tags for c in plan.columns}
    rows = all(isinstance(v, dict) for v in values)
    if rule.rule == "sql":
        table = pa.Table.from_pylist(values)
        tags = sql_sample_tags(rule.sql or "", spec.name, table.column_names, tags)
        types = {f.name: from_arrow(f.type) for f in table.schema}
    elif rows:
        table = pa.Table.from_pylist(values)
    else:
        table = _column_table(rule.target_columns[0], values, schema)
    shown_tags = {n: tags.get(n, ()) for n in table.column_names}
    seen = uncleared_rows(spec, table, shown_tags, types, engine)
    if seen.table is None:
        return FailingSample([], {"*": f"not shown ({seen.because})"})
    if rows:
        return FailingSample(seen.table.to_pylist(), seen.protected)
    column = table.column_names[0]
    if column not in seen.table.column_names:
        return FailingSample([], seen.protected)
    return FailingSample(seen.table.column(column).to_pylist(), seen.protected)


def _column_table(column: str, values: list[Any], schema: pa.Schema) -> pa.Table:
    """The failing values of one column as a table, in the product's type where they fit."""
    index = schema.get_field_index(column)
    if index >= 0:
        try:
            return pa.table({column: pa.array(values, schema.field(index).type)})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass  # e.g. decimals evaluated as floats
    return pa.table({column: pa.array(values)})


def uncleared_error(spec: ProductSpec, plan: ProductPlan, rule: QualityRule, error: str) -> str:
    """`error` (why `rule` could not be evaluated) as a reader without clearance may read it.

    An engine's message can quote the value it failed on (`Could not convert string 'Alice'`):
    when the rule reads a column the policy does not show such a reader in clear, every quoted
    text and every number in the message is replaced by `***`.
    """
    from mesh_platform.access.policy import uncleared_view

    tags = {c.name: c.tags for c in plan.columns}
    if rule.rule == "sql":  # a name the query does not return: the tags of all it reads
        read = sql_sample_tags(rule.sql or "", spec.name, [""], tags)[""]
    else:
        read = _union(tags, rule.target_columns)
    view = uncleared_view(spec.domain, {"": read}, spec.tags)
    if view.readable and not view.masked():
        return error
    unquoted = _QUOTED.sub("'***'", error)
    return _NUMBER.sub("***", unquoted)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d.,:_eE+\-]*")


def sql_sample_tags(
    sql: str, product: str, columns: list[str], tags: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """The tags of each column a `sql` rule's query returns over `product` (whose columns have
    `tags`): those of the product columns it is computed from.

    Exact for one SELECT over the product alone (the usual `SELECT * FROM p WHERE ...`): `*`
    and a column kept under its name are that column; an expression or a rename, the columns it
    names. Any other query (joins, WITH, subqueries, UNION): every column it returns carries
    the tags of every product column it names anywhere (all, when it has a `*`, or when it
    does not parse), so a value laundered through it is protected as the most protected.
    """
    from sqlglot import exp

    from mesh_platform.compile import sql as sqlmod
    from mesh_platform.compile.sql import SqlProblem

    everything = _union(tags, tags)
    try:
        query = sqlmod.parse(sql)
    except SqlProblem:
        return {c: everything for c in columns}
    named = {c.name for c in query.find_all(exp.Column)}
    anywhere = everything if any(query.find_all(exp.Star)) else _union(tags, named)
    if not _simple(query, product):
        return {c: anywhere for c in columns}
    assert isinstance(query, exp.Select)
    found: dict[str, tuple[str, ...]] = {}
    for projection in query.expressions:
        if isinstance(projection, exp.Star):
            found |= {c: tuple(tags.get(c, ())) for c in columns if c in tags}
            continue
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        names = {c.name for c in inner.find_all(exp.Column)}
        found[projection.alias_or_name] = _union(tags, names)
    return {c: found.get(c, anywhere) for c in columns}


def _simple(query: Any, product: str) -> bool:
    """One SELECT reading only `product`: no join, WITH, subquery or set operation."""
    from sqlglot import exp

    if not isinstance(query, exp.Select) or query.args.get("with_") or query.args.get("joins"):
        return False
    tables = list(query.find_all(exp.Table))
    subqueries = [s for s in query.find_all(exp.Select, exp.Subquery) if s is not query]
    return not subqueries and [t.name for t in tables] == [product]


def _union(tags: Mapping[str, tuple[str, ...]], names: Any) -> tuple[str, ...]:
    """The tags of every column of `names`, once each, in order."""
    return tuple(dict.fromkeys(t for n in names for t in tags.get(n, ())))
