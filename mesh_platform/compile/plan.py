"""A product's plan: its steps checked against its inputs, its output schema and lineage.

Everything here happens at load, before anything runs, so a bad spec fails with a file and
line in `dagster definitions validate`, `mesh validate` and the UI's reload alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from mesh_platform.column_types import UNKNOWN, Schema, family, is_temporal
from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.decryption import decrypt_granted
from mesh_platform.compile.grouping import check_grouping
from mesh_platform.compile.lineage import product_lineage
from mesh_platform.compile.rules import validate_rules
from mesh_platform.compile.sql import SqlProblem
from mesh_platform.compile.step_modules import check_step_module
from mesh_platform.compile.type_check import CertainType, certain_types, contradiction
from mesh_platform.compile.writes import validate_writes
from mesh_platform.errors import SpecError
from mesh_platform.registry import check_params, registry
from mesh_platform.security.pii import column_tags
from mesh_platform.security.policy import reserved_calls
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ColumnSpec, PythonStep, SqlStep, StandardStep

StepKind = Literal["sql", "standard", "python"]
InputTags = Mapping[str, Mapping[str, tuple[str, ...]]]  # input port -> column -> tags


@dataclass(frozen=True)
class PlannedStep:
    """One step, ready to run: its name, kind and (for SQL) the parsed query."""

    name: str
    kind: StepKind
    query: exp.Query | None = None
    standard: str | None = None
    params: object = None
    python: str | None = None
    output: Schema | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """An output column: its type, meaning, tags, sources (input port, column) and formula."""

    name: str
    type: str
    description: str
    tags: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    formula: str
    declared: bool = False


@dataclass(frozen=True)
class ProductPlan:
    """What a product computes, derived from its spec and its inputs' schemas."""

    steps: tuple[PlannedStep, ...]
    columns: tuple[ColumnPlan, ...]

    @property
    def schema(self) -> Schema:
        """Output column names and types (declared, else inferred from the SQL)."""
        return {c.name: c.type for c in self.columns}

    @property
    def declared_schema(self) -> Schema:
        """Output column names with their declared types (`unknown` where not declared)."""
        return {c.name: c.type if c.declared else UNKNOWN for c in self.columns}


def step_name(index: int, declared: str | None) -> str:
    """A step's name: declared, else `step_<n>` (1-based)."""
    return declared or f"step_{index + 1}"


def plan_product(
    source: ProductSource,
    input_schemas: Mapping[str, Schema | None],
    input_tags: InputTags | None = None,
) -> ProductPlan:
    """Check a product's steps and contract against its inputs; derive schema and lineage.

    `input_tags` (input port -> column -> tags) lets sensitivity tags such as `pii` flow to the
    columns computed from them (see `pii.py`).
    """
    spec = source.spec
    if spec.source is not None:
        plan = _landing_plan(source)
        validate_rules(source, plan.schema, input_schemas)
        validate_writes(source, plan.columns)
        return plan
    available: dict[str, Schema | None] = dict(input_schemas)
    planned: list[PlannedStep] = []
    previous: Schema | None = None
    for index, step in enumerate(spec.steps):
        name = step_name(index, step.name)
        if name in available:
            raise source.error(
                f"step name {name!r} is already an input or an earlier step",
                "steps",
                index,
                fix="give the step another name",
            )
        if isinstance(step, SqlStep):
            planned_step = _plan_sql(source, index, name, step, available)
        elif isinstance(step, StandardStep):
            planned_step = _plan_standard(
                source,
                index,
                name,
                step,
                previous,
                planned[-1].name if planned else None,
                available,
            )
        else:
            planned_step = _plan_python(source, index, name, step)
        planned.append(planned_step)
        previous = planned_step.output
        available[name] = previous
    columns = _columns(source, planned, input_schemas, input_tags or {})
    schema = {c.name: c.type for c in columns}
    _check_partition_column(source, schema)
    validate_rules(source, schema, input_schemas)
    validate_writes(source, columns)
    return ProductPlan(tuple(planned), columns)


def _check_partition_column(source: ProductSource, schema: Schema) -> None:
    """A partitioned product's result must hold its partition column, a date or timestamp."""
    partitioning = source.spec.partitioning
    if partitioning is None or not schema:
        return
    column = partitioning.column
    if column not in schema:
        raise source.error(
            f"the product is partitioned by {column!r} but its steps do not produce it; "
            f"they produce: {', '.join(schema)}",
            "partitioning",
            "column",
            fix=f"select {column!r} (a date) in the last step, or partition by one of these",
        )
    if schema[column] != UNKNOWN and not is_temporal(schema[column]):
        raise source.error(
            f"partition column {column!r} is {schema[column]}; time partitions need a date or "
            "timestamp",
            "partitioning",
            "column",
            fix=f"CAST it in the last step (e.g. `CAST(... AS DATE) AS {column}`)",
        )


def _plan_sql(
    source: ProductSource,
    index: int,
    name: str,
    step: SqlStep,
    available: Mapping[str, Schema | None],
) -> PlannedStep:
    start = source.sql_start_line(index)
    try:
        query = sqlmod.parse(step.sql)
        _check_reserved(query, step.sql, source.spec.domain)
        sqlmod.check_functions(query, step.sql)
        qualified = sqlmod.validate(query, step.sql, available)
        schema = None
        if qualified is not query:  # every input's schema is known, so the query is qualified
            check_grouping(qualified, step.sql)
            schema = sqlmod.output_schema(qualified, available)
    except SqlProblem as problem:
        line = (
            (start + problem.line - 1)
            if (start and problem.line)
            else source.line_of("steps", index)
        )
        raise SpecError(
            f"step {name!r}: {problem.message}", file=source.path, line=line, fix=problem.fix
        ) from None
    return PlannedStep(name, "sql", query=query, output=schema or None)


def _check_reserved(query: exp.Query, sql: str, domain: str) -> None:
    calls = list(query.find_all(exp.Anonymous))
    names = {f.name.lower() for f in calls}
    reserved = reserved_calls(sorted(names), "decrypt_det" in names and decrypt_granted(domain))
    if not reserved:
        return
    first = next(f for f in calls if f.name.lower() in reserved)
    internal = [n for n in reserved if n != "decrypt_det"]
    why = [f"{', '.join(internal)} is reserved for the platform's keyed functions"] * bool(internal)
    fix = "use the platform SQL functions (see `mesh standards`)"
    if "decrypt_det" in reserved:
        why.append(f"the access policy does not grant the {domain} domain decryption")
        fix += (
            f"; to decrypt, the platform team adds {domain} to `decrypt: granted_to:` in "
            "standards/access_policy.yaml (a product's own tags do not grant it)"
        )
    raise SqlProblem(
        f"SQL may not call {', '.join(reserved)} here: {'; '.join(why)}",
        sqlmod.line_of_node(sql, first, first.name),
        fix,
    )


def _plan_standard(
    source: ProductSource,
    index: int,
    name: str,
    step: StandardStep,
    previous: Schema | None,
    previous_name: str | None = None,
    available: Mapping[str, Schema | None] | None = None,
) -> PlannedStep:
    steps = registry().steps
    definition = steps.get(step.use)
    if definition is None:
        known = ", ".join(s.name for s in steps.all())
        raise source.error(
            f"unknown standard step {step.use!r}",
            "steps",
            index,
            "use",
            fix=f"use one of: {known} (see `mesh standards`)",
        )
    if index == 0:
        raise source.error(
            f"standard step {step.use!r} cannot be the first step: it transforms the previous "
            "step's result",
            "steps",
            index,
            fix="start with a SQL step that selects the input",
        )
    try:
        params = check_params(definition, step.params)
        output = definition.output_schema(previous or {}, params) if previous else None
    except ValueError as exc:
        raise source.error(
            str(exc), "steps", index, "with", fix="see `mesh standards` for the parameters"
        ) from None
    if definition.sql is None:
        return PlannedStep(name, "standard", standard=step.use, params=params, output=output)
    if not previous or previous_name is None:
        raise source.error(
            f"standard step {step.use!r} needs the previous step's columns, which are not "
            "known here (a Python step or `SELECT *` over an untyped input comes before it)",
            "steps",
            index,
            fix="put a SQL step that names its columns before this step",
        )
    # Runs as SQL: same validation as a written SQL step, and lineage flows through it.
    text = f"SELECT {', '.join(definition.sql(previous, params))} FROM {previous_name}"
    query = sqlmod.parse(text)
    try:
        sqlmod.validate(query, text, available or {previous_name: previous})
    except SqlProblem as problem:
        raise source.error(
            f"standard step {step.use!r}: {problem.message}", "steps", index, fix=problem.fix
        ) from None
    return PlannedStep(
        name, "standard", query=query, standard=step.use, params=params, output=output
    )


def _plan_python(source: ProductSource, index: int, name: str, step: PythonStep) -> PlannedStep:
    check_step_module(source, index, name, step)  # imports the step's module
    return PlannedStep(name, "python", python=step.python, output=None)


def _landing_plan(source: ProductSource) -> ProductPlan:
    spec = source.spec
    if not spec.columns:
        raise source.error(
            "an ingestion product must declare its `columns` (the landing contract)",
            "source",
            fix="list each landing column with its type under `columns:`",
        )
    columns = tuple(
        ColumnPlan(
            c.name,
            c.type or UNKNOWN,
            c.description,
            c.tags,
            (("landing", c.name),),
            c.name,
            declared=c.type is not None,
        )
        for c in spec.columns
    )
    return ProductPlan((), columns)


def _columns(
    source: ProductSource,
    steps: list[PlannedStep],
    input_schemas: Mapping[str, Schema | None],
    input_tags: InputTags,
) -> tuple[ColumnPlan, ...]:
    spec = source.spec
    produced = steps[-1].output
    declared = {c.name: c for c in spec.columns}
    if produced and declared:
        missing = [n for n in declared if n not in produced]
        if missing:
            raise source.error(
                f"the contract declares column {missing[0]!r} but the steps do not produce it; "
                f"they produce: {', '.join(produced)}",
                "columns",
                list(declared).index(missing[0]),
                fix="select the column in the last step or remove it from `columns`",
            )
        extra = [n for n in produced if n not in declared]
        if extra:
            raise source.error(
                f"the steps produce column(s) not in the contract: {', '.join(extra)}",
                "columns",
                fix="declare them under `columns:` or drop them from the last step",
            )
    if declared:  # also when some columns are unknown: a literal or CAST is still certain
        _check_declared_types(source, steps, input_schemas, list(declared.values()))
    names = list(declared) if declared else list(produced or {})
    lineage = product_lineage(steps, input_schemas, names)
    columns = []
    for name in names:
        col = declared.get(name)
        inferred = (produced or {}).get(name, UNKNOWN)
        info = lineage.get(name)
        columns.append(
            ColumnPlan(
                name=name,
                type=(col.type if col and col.type else inferred),
                description=col.description if col else "",
                tags=column_tags(
                    name,
                    col.tags if col else (),
                    (info.sources, info.formula) if info else None,
                    input_tags,
                ),
                sources=info.sources if info else (),
                formula=info.formula if info else name,
                declared=bool(col and col.type),
            )
        )
    return tuple(columns)


def _check_declared_types(
    source: ProductSource,
    steps: list[PlannedStep],
    input_schemas: Mapping[str, Schema | None],
    declared: list[ColumnSpec],
) -> None:
    """Refuse a declared type the steps certainly do not produce (`type_check.py`).

    The run-time contract check (`run/conform.py`) casts within a family (numbers, strings,
    dates and times, booleans) and fails the run across families; when the type of the
    steps' result is certain at load, the same mismatch is refused here with the same words,
    and so is an integer type declared for a certainly fractional number (a division, an
    average). A standard step run by polars last is typed by its definition.
    """
    certain = certain_types(steps, input_schemas)
    last = steps[-1]
    if last.query is None and last.kind == "standard" and last.output:
        certain = {n: CertainType(t) for n, t in last.output.items() if family(t) is not None}
    for index, column in enumerate(declared):
        found = certain.get(column.name)
        if column.type is None or found is None:
            continue  # only a type the steps certainly produce can contradict the contract
        problem = contradiction(column.name, column.type, found, source.spec.qualified_name)
        if problem is not None:
            raise source.error(problem.message, "columns", index, "type", fix=problem.fix)
