"""Masking on read: the access policy applied inside the engine, as the plan's first steps.

For each input from another domain whose columns the consumer may not see in clear, the plan
gets a projection step over that input (`SELECT c_custkey, mask_partial(c_name, 1) AS c_name,
... FROM customer`) built from the policy's standard masking steps, and the consumer's steps
read that projection instead of the input. The masking is part of the plan, so a run, `mesh
preview` and product tests run it alike on every engine, and the preview shows it as a step.
Tags do not follow the masking: what a consumer derives from a `pii` column it sees masked stays
`pii` (a partial mask keeps characters of the value, and a consumer's contract must not change
when its clearance does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlglot import exp

from mesh_platform.access.policy import ColumnAccess, MaskStep, ProductAccess
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


def view_name(port: str, taken: set[str]) -> str:
    """The masking step's name: `<port>_masked`, made unique among ports and steps."""
    name = f"{port}_masked"
    while name in taken:
        name += "_"
    return name


def mask_plan(
    source: ProductSource, plan: ProductPlan, masks: Mapping[str, InputMask]
) -> ProductPlan:
    """`plan` with a masking step before its first step for each masked input, and its steps
    reading those instead of the inputs."""
    if not masks:
        return plan
    _refuse_raw_readers(source, plan, masks)
    taken = {s.name for s in plan.steps} | set(source.spec.inputs)
    views: dict[str, str] = {}
    first: list[PlannedStep] = []
    for port, mask in masks.items():
        views[port] = name = view_name(port, taken)
        taken.add(name)
        query = sqlmod.parse(f"SELECT {', '.join(mask.select)} FROM {port}")
        first.append(PlannedStep(name, "sql", query=query, output=dict(mask.schema)))
    steps = [
        replace(s, query=_read_views(source, s, s.query, views)) if s.query is not None else s
        for s in plan.steps
    ]
    return replace(plan, steps=(*first, *steps))


def _read_views(
    source: ProductSource, step: PlannedStep, query: exp.Query, views: Mapping[str, str]
) -> exp.Query:
    """`query` with each table reference to a masked input pointing at its masking step."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    shadowed = sorted(ctes & set(views))
    if shadowed:
        raise source.error(
            f"step {step.name!r} names a WITH query {shadowed[0]!r} like a masked input; the "
            "platform cannot tell them apart",
            "steps",
            fix=f"rename the WITH query {shadowed[0]!r}",
        )
    rewritten = query.copy()
    for table in list(rewritten.find_all(exp.Table)):
        if table.db or table.catalog or table.name not in views:
            continue
        alias = table.alias or table.name
        table.replace(exp.to_table(views[table.name]).as_(alias))
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
