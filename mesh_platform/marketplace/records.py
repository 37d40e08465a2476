"""What the catalog holds of a product's spec, derived from the planned mesh.

A `ProductRecord` is the product as the marketplace shows it: its contract's columns with the
written types, descriptions, formulas from column lineage, tags and the input columns each is
computed from; its rules, SLA, owners, version and steps with the schema after each. Its
`digest` tells the sync whether anything changed since the last one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from mesh_platform.compile.plan import ProductPlan, step_name
from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.impact import impact_facts
from mesh_platform.marketplace.masked import uncleared_marks
from mesh_platform.spec.model import ProductSpec, PythonStep, SqlStep, StandardStep
from mesh_platform.spec.workspace import Key


@dataclass(frozen=True)
class ColumnRecord:
    """A contract column: written type, meaning, formula, tags, and its input columns."""

    name: str
    type: str
    description: str
    formula: str
    tags: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]  # (domain.product, column)
    # How a reader of another domain without clearance sees it (the access policy's mark,
    # `masked.py`): kept with the record so that the product page does not load the policy.
    uncleared: str = ""


@dataclass(frozen=True)
class StepRecord:
    """A step: its name, kind, what it does (SQL text, standard and parameters, function) and
    the schema after it (None when not known at load, e.g. after a Python step)."""

    name: str
    kind: str
    detail: str
    description: str
    schema: dict[str, str] | None


@dataclass(frozen=True)
class RuleRecord:
    """A quality rule as its check is named, with the columns it reads."""

    name: str
    rule: str
    columns: tuple[str, ...]
    severity: str
    description: str


@dataclass(frozen=True)
class ProductRecord:
    """A product of the mesh as the catalog holds it."""

    name: str
    domain: str
    product: str
    visibility: str
    description: str
    version: str
    team: str
    owners: tuple[str, ...]
    on_call: str | None
    tags: dict[str, str]
    freshness_hours: float | None
    schedule: str | None
    automation: str | None
    inputs: dict[str, str]
    steps: tuple[StepRecord, ...]
    rules: tuple[RuleRecord, ...]
    columns: tuple[ColumnRecord, ...]
    spec_path: str = ""
    # What impact analysis reads beyond the contract (`impact.impact_facts`).
    impact: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """A hash of everything above: equal digests, nothing to write."""
        data = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(data.encode()).hexdigest()

    def search_tags(self) -> list[str]:
        """Tags the product is found by: its columns' tags, its own keys and `key:value`."""
        found = {t for c in self.columns for t in c.tags}
        for key, value in self.tags.items():
            found.update((key, f"{key}:{value}"))
        return sorted(found)


def product_record(mesh: Mesh, key: Key) -> ProductRecord:
    """The record of a planned product of `mesh`."""
    source = mesh.products[key]
    spec = source.spec
    plan = mesh.plans[key]
    domain = mesh.domains[spec.domain].spec
    refs = {port: ".".join(ref) for port, ref in spec.input_refs().items()}
    return ProductRecord(
        name=spec.qualified_name,
        domain=spec.domain,
        product=spec.name,
        visibility=spec.visibility,
        description=spec.description.strip(),
        version=spec.version,
        team=domain.team,
        owners=spec.owners or domain.owners or (domain.default_owner,),
        on_call=domain.on_call,
        tags=dict(spec.tags),
        freshness_hours=spec.freshness.max_age_hours if spec.freshness else None,
        schedule=spec.schedule,
        automation=spec.automation,
        inputs=refs,
        steps=_steps(spec, plan),
        rules=tuple(
            RuleRecord(r.check_name, r.rule, r.target_columns, r.severity, r.description)
            for r in spec.quality
        ),
        columns=_marked(spec, _columns(spec, plan, refs)),
        spec_path=_relative(source.path, mesh.root),
        impact=impact_facts(mesh, key),
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _columns(
    spec: ProductSpec, plan: ProductPlan, refs: dict[str, str]
) -> tuple[ColumnRecord, ...]:
    declared = {c.name: c for c in spec.columns}
    records = []
    for column in plan.columns:
        written = declared.get(column.name)
        records.append(
            ColumnRecord(
                name=column.name,
                type=(written.type if written and written.type else column.type),
                description=column.description,
                formula=column.formula if column.formula != column.name else "",
                tags=tuple(column.tags),
                sources=tuple((refs[port], name) for port, name in column.sources if port in refs),
            )
        )
    return tuple(records)


def _marked(spec: ProductSpec, columns: tuple[ColumnRecord, ...]) -> tuple[ColumnRecord, ...]:
    """`columns` with the mark of each a reader without clearance does not see in clear."""
    marks = uncleared_marks(
        spec.domain,
        {c.name: c.tags for c in columns},
        dict(spec.tags),
        {c.name: c.type for c in columns},
    )
    return tuple(replace(c, uncleared=marks.get(c.name, "")) for c in columns)


def _steps(spec: ProductSpec, plan: ProductPlan) -> tuple[StepRecord, ...]:
    records = []
    for index, (step, planned) in enumerate(zip(spec.steps, plan.steps, strict=False)):
        if isinstance(step, SqlStep):
            kind, detail = "sql", step.sql.strip()
        elif isinstance(step, StandardStep):
            params = json.dumps(step.params, sort_keys=True, default=str)
            kind, detail = "standard", f"{step.use} with {params}"
        else:
            assert isinstance(step, PythonStep)
            kind, detail = "python", step.python
        schema = dict(planned.output) if planned.output else None
        records.append(
            StepRecord(step_name(index, step.name), kind, detail, step.description, schema)
        )
    if spec.source is not None:
        records.append(
            StepRecord("landing", "landing", spec.source.landing, "", dict(plan.schema) or None)
        )
    return tuple(records)


def consumed_columns(mesh: Mesh, consumer: Key, port: str) -> tuple[str, ...]:
    """The columns of input `port` that product `consumer` reads: those its output columns
    are computed from, and those its SQL names (filters, joins, grouping)."""
    plan = mesh.plans[consumer]
    spec = mesh.products[consumer].spec
    refs = spec.input_refs()
    producer = refs[port]
    available = set(mesh.plans[producer].schema) if producer in mesh.plans else set()
    others: set[str] = set()
    for other_port, ref in refs.items():
        if other_port != port and ref in mesh.plans:
            others.update(mesh.plans[ref].schema)
    used = {name for c in plan.columns for p, name in c.sources if p == port}
    for step in plan.steps:
        if step.query is None:
            continue
        # The input as the SQL names it: `orders`, or an alias (`FROM orders o`).
        names = {t.alias_or_name.lower() for t in step.query.find_all(exp.Table) if t.name == port}
        for column in step.query.find_all(exp.Column):
            name = column.name.lower()
            table = column.table.lower()
            if table in names or (not table and name in available and name not in others):
                used.add(name)
    return tuple(sorted(n for n in used if not available or n in available))


def as_json(value: Any) -> str:
    """JSON text for a catalog column (dataclasses as objects)."""
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)
