"""Masking on read: the access policy applied inside the engine, as part of the plan.

For each input from another domain whose columns the consumer may not see in clear, the
policy's standard masking steps give a projection over that input (`SELECT c_custkey,
mask_redact(c_name, 1) AS c_name, ... FROM customer`), and each of the consumer's SQL steps
that reads the input reads that projection instead (a WITH query put first in the step). The
masking is part of the plan, so a run, `mesh preview` and product tests run it alike on every
engine, and nothing reads the input unmasked for the consumer.
Tags do not follow the masking: what a consumer derives from a `pii` column it sees masked stays
`pii` (a partial mask keeps characters of the value, and a consumer's contract must not change
when its clearance does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlglot import exp

from mesh_platform.access.masked_use import check_masked_use
from mesh_platform.access.policy import ColumnAccess, MaskStep, ProductAccess
from mesh_platform.access.reader_view import refuse_masked_references
from mesh_platform.access.readonly import takes_inputs
from mesh_platform.column_types import Schema
from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.plan import PlannedStep, ProductPlan
from mesh_platform.errors import SpecError
from mesh_platform.registry import registry
from mesh_platform.spec.loading import ProductSource

NULLIFY = MaskStep(use="nullify")


@dataclass(frozen=True)
class InputMask:
    """How one input is masked for one consumer: the projection, what it yields, and why."""

    port: str
    select: tuple[str, ...]
    schema: Schema
    columns: dict[str, ColumnAccess]


def input_mask(
    port: str,
    schema: Schema,
    access: ProductAccess,
) -> InputMask | None:
    """The masking projection of input `port` for `access`'s consumer; None when all clear."""
    protected = access.masked()
    if not protected:
        return None
    select: list[str] = []
    seen_schema: Schema = {}
    for column, typ in schema.items():
        decision = protected.get(column)
        if decision is None:
            select.append(column)
            seen_schema[column] = typ
            continue
        step = decision.step if decision.action == "masked" and decision.step else NULLIFY
        expression, new_type = _protect(column, typ, step)
        select.append(f"{expression} AS {column}")
        seen_schema[column] = new_type
    return InputMask(port, tuple(select), seen_schema, protected)


def _protect(column: str, typ: str, step: MaskStep) -> tuple[str, str]:
    """The SQL expression masking `column` with standard step `step`, and its type."""
    definition = registry().steps.get(step.use)
    if definition is None or definition.sql is None:
        raise SpecError(
            f"the access policy masks with {step.use!r}, which is not a standard step that "
            "runs as SQL",
            fix="fix standards/access_policy.yaml (see `mesh standards`)",
        )
    params = definition.parse_params({**step.params, "columns": [column]})
    (entry,) = definition.sql({column: typ}, params)
    new_type = definition.output_schema({column: typ}, params)[column]
    suffix = f" AS {column}"
    expression = entry[: -len(suffix)] if entry.endswith(suffix) else entry
    return expression, new_type


def mask_plan(
    source: ProductSource, plan: ProductPlan, masks: Mapping[str, InputMask]
) -> ProductPlan:
    """`plan` whose SQL steps read each masked input through its masking projection.

    The projection is a WITH query put first in each step that reads the input, so the steps
    keep their names, number and kinds (what `mesh preview` shows), and a subquery or a later
    WITH query of the step reads the masked values too.
    """
    if not masks:
        return plan
    _refuse_raw_readers(source, plan, masks)
    refuse_masked_references(source, {port: mask.columns for port, mask in masks.items()})
    check_masked_use(source, plan, masks)  # security steps and join keys on masked columns
    projections = {
        port: sqlmod.parse(f"SELECT {', '.join(mask.select)} FROM {port}")
        for port, mask in masks.items()
    }
    steps = tuple(
        replace(s, query=_read_masked(source, s, s.query, projections))
        if s.query is not None
        else s
        for s in plan.steps
    )
    return replace(plan, steps=steps)


def _read_masked(
    source: ProductSource,
    step: PlannedStep,
    query: exp.Query,
    projections: Mapping[str, exp.Query],
) -> exp.Query:
    """`query` with its references to masked inputs reading their masking projections."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    shadowed = sorted(ctes & set(projections))
    if shadowed:
        raise source.error(
            f"step {step.name!r} names a WITH query {shadowed[0]!r} like a masked input; the "
            "platform cannot tell them apart",
            "steps",
            fix=f"rename the WITH query {shadowed[0]!r}",
        )
    tables = [t for t in query.find_all(exp.Table) if not t.db and not t.catalog]
    read = sorted({t.name for t in tables if t.name in projections})
    if not read:
        return query
    taken = ctes | {t.name for t in tables} | set(projections)
    names: dict[str, str] = {}
    for port in read:
        names[port] = f"{port}_masked"
        while names[port] in taken:
            names[port] += "_"
        taken.add(names[port])
    rewritten = query.copy()
    for table in list(rewritten.find_all(exp.Table)):
        if not table.db and not table.catalog and table.name in names:
            table.replace(exp.to_table(names[table.name]).as_(table.alias or table.name))
    masked = [
        exp.CTE(this=projections[port].copy(), alias=exp.TableAlias(this=exp.to_identifier(name)))
        for port, name in names.items()
    ]
    existing = rewritten.args.get("with_")
    if existing is None:
        rewritten.set("with_", exp.With(expressions=masked))
    else:
        existing.set("expressions", [*masked, *existing.expressions])
    return rewritten


def _refuse_raw_readers(
    source: ProductSource, plan: ProductPlan, masks: Mapping[str, InputMask]
) -> None:
    """A Python step that takes the inputs would read them unmasked: refused at load."""
    for index, step in enumerate(plan.steps):
        if step.kind == "python" and step.python and takes_inputs(step.python):
            ports = ", ".join(sorted(masks))
            raise source.error(
                f"python step {step.name!r} takes the inputs, but the access policy masks "
                f"input(s) {ports} for the {source.spec.domain} domain",
                "steps",
                index,
                fix="read the inputs in a SQL step before it (the step gets the masked "
                "values), or ask the platform team for the clearance (docs/access.md)",
            )
