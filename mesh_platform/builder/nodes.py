"""The data of one node of a planned draft, computed alone (the builder's node panel).

A step's node runs the steps up to it only (`plan.steps[:index + 1]`) and reads its first rows
with a LIMIT (`DuckDBEngine.preview_step`: DuckDB stops early where the step allows it), its
row count only when asked. The inputs are read as `mesh preview` reads them (`dev/preview.py`
`preview_inputs`: the subscription's scope checked, only its columns read), by the same engine,
the masking on read being in the planned SQL. A step whose whole result is small is kept
(`results.py`) under its domain, its planned steps up to it and its inputs' Delta versions;
the steps of a later node that are kept are read from there instead of computed again. Nothing
is kept from a Python step on (its code is outside the plan's text).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mesh_platform.builder.planning import PlannedDraft, plan_prefix
from mesh_platform.builder.results import KEEP_ROWS
from mesh_platform.builder.views import (
    ColumnView,
    NodePreview,
    arrow_type,
    column_views,
    frame_rows,
    input_tags,
)
from mesh_platform.builder.warm import Warm
from mesh_platform.dev.preview import WRITTEN, preview_inputs, preview_plan, written_preview
from mesh_platform.engine import StepPreview
from mesh_platform.spec.workspace import Key

if TYPE_CHECKING:
    import pyarrow as pa

    from mesh_platform.access.scope import Scopes


def node_name(planned: PlannedDraft, index: int) -> str:
    spec, steps = planned.source.spec, planned.plan.steps
    if index < 0:
        return list(spec.input_refs())[-index - 1]
    if spec.source is not None:
        return "landing" if index == 0 else WRITTEN
    return steps[index].name if index < len(steps) else WRITTEN


def node_data(
    planned: PlannedDraft, index: int, scopes: Scopes | None, rows: int, cache: Warm, count: bool
) -> NodePreview:
    """Node `index`: an input (< 0), a step, or the product as written (the last index)."""
    if index < 0:
        return _input_node(planned, index, scopes, rows, cache, count)
    spec, steps = planned.source.spec, planned.plan.steps
    if spec.source is not None:  # a landing source: its first rows, then as written
        found = _run(planned, scopes, rows, cache)[0]
        if index == 0:
            return _step_node(planned, 0, found, cache)
        return _written_node(planned, 1, found)
    if index < len(steps):
        found = step_sample(planned, index, scopes, rows, cache, count)
        return _step_node(planned, index, found, cache)
    last = step_sample(planned, len(steps) - 1, scopes, rows, cache, count)
    return _written_node(planned, len(steps), last)


def step_sample(
    planned: PlannedDraft, index: int, scopes: Scopes | None, rows: int, cache: Warm, count: bool
) -> StepPreview:
    """Step `index`'s schema and first rows (its count when asked, or known: -1 otherwise),
    computed alone, from kept results where there are."""
    from mesh_platform.engine.duckdb.engine import DuckDBEngine

    spec, plan = planned.source.spec, planned.plan
    versions: dict[Key, int] = {}

    def read(ref: Key) -> Any:
        versions[ref], data = cache.versioned(ref)
        return data

    inputs = preview_inputs(spec, plan, read, scopes)  # the scope checked on every call
    keys = step_keys(planned, versions, scopes)
    step = plan.steps[index]
    kept = cache.results.get(keys[index]) if keys[index] is not None else None
    if kept is not None:
        return _kept_sample(step.name, step.kind, kept, rows)
    engine = cache.engine(spec.engine)
    prefix = replace(plan, steps=plan.steps[: index + 1])
    if not isinstance(engine, DuckDBEngine):  # another engine: its preview of the prefix
        return engine.preview(prefix, inputs, rows)[-1]
    given = {}
    for key, earlier in zip(keys[:index], plan.steps[:index], strict=True):
        table = cache.results.get(key) if key is not None else None
        if table is not None:
            given[earlier.name] = table[1]
    keep = KEEP_ROWS if keys[index] is not None else 0
    found, whole = engine.preview_step(prefix, inputs, rows, given=given, keep=keep, count=count)
    if whole is not None and keys[index] is not None:
        cache.results.put(keys[index], (found.schema, whole), whole.get_total_buffer_size())
    return found


def step_keys(
    planned: PlannedDraft, versions: dict[Key, int], scopes: Scopes | None
) -> list[Hashable | None]:
    """Each step's key in the kept results: everything its result depends on (None from the
    first Python step on)."""
    from mesh_platform.run.scope import scoped_ports

    spec = planned.source.spec
    scoped = scoped_ports(spec, scopes)
    base = (
        spec.domain,
        spec.engine,
        tuple(sorted((port, ref, versions.get(ref)) for port, ref in spec.input_refs().items())),
        tuple(sorted((port, tuple(sorted(cols))) for port, cols in scoped.items())),
    )
    keys: list[Hashable | None] = []
    text: list[tuple[Any, ...]] = []
    for step in planned.plan.steps:
        if step.python is not None or (keys and keys[-1] is None):
            keys.append(None)
            continue
        query = step.query.sql(dialect="spark") if step.query is not None else None
        text.append((step.name, step.kind, query, step.standard, repr(step.params)))
        keys.append((base, tuple(text)))
    return keys


def _kept_sample(
    name: str, kind: str, kept: tuple[dict[str, str], pa.Table], rows: int
) -> StepPreview:
    import polars as pl

    schema, table = kept
    frame = pl.from_arrow(table.slice(0, rows)) if rows else pl.DataFrame()
    assert isinstance(frame, pl.DataFrame)
    return StepPreview(name, kind, schema, table.num_rows, frame)


def _run(planned: PlannedDraft, scopes: Scopes | None, rows: int, cache: Warm) -> list[StepPreview]:
    spec = planned.source.spec
    return preview_plan(
        spec,
        planned.plan,
        cache.lakehouse,
        cache.keys,
        rows,
        access=lambda _: scopes,
        engine=cache.engine(spec.engine),
        dataset=cache.dataset,
    )


def _input_node(
    planned: PlannedDraft, index: int, scopes: Scopes | None, rows: int, cache: Warm, count: bool
) -> NodePreview:
    """An input as this domain reads it: within the subscription's scope, masked."""
    from mesh_platform.run.scope import check_scope, scoped_ports, scoped_read

    spec = planned.source.spec
    port, ref = node_name(planned, index), spec.input_refs()[node_name(planned, index)]
    read = {p: cache.versioned(r) for p, r in spec.input_refs().items()}
    data = {p: found for p, (_, found) in read.items()}
    check_scope(spec, planned.plan, data, scopes)  # the product's reads, as on every node
    ports = scoped_ports(spec, scopes)
    mask = planned.masks.get(port)
    select = ", ".join(mask.select) if mask else "*"
    # What this domain sees of the input's first rows, kept by its version (a head of a big
    # table decodes a whole row group).
    scope = tuple(sorted(ports.get(port, ())))
    key = ("input", spec.domain, spec.engine, ref, read[port][0], select, scope, rows)
    sample = cache.results.get(key)
    if sample is None:
        head = data[port].head(rows)
        if port in ports:
            head = scoped_read(head, ports[port])
        sample = cache.engine(spec.engine).query(f"SELECT {select} FROM {port}", {port: head})
        cache.results.put(key, sample, sample.get_total_buffer_size())
    masked = set(mask.columns) if mask else set()
    tags = input_tags(planned, port)
    columns = tuple(
        ColumnView(f.name, arrow_type(f.type), tags.get(f.name, ()), None, f.name in masked)
        for f in sample.schema
    )
    size = data[port].count_rows() if count else None
    return NodePreview(port, index, columns, sample.to_pylist(), size)


def _step_node(planned: PlannedDraft, index: int, step: StepPreview, cache: Warm) -> NodePreview:
    columns = cache.prefix_columns(planned, index + 1, plan_prefix)
    return NodePreview(
        step.name,
        index,
        column_views(step.schema, planned, columns),
        frame_rows(step.sample),
        step.rows if step.rows >= 0 else None,
    )


def _written_node(planned: PlannedDraft, index: int, last: StepPreview) -> NodePreview:
    """The last step's sample as the contract writes it, or the contract check's error."""
    plan = planned.plan
    written, error = written_preview(last, plan, planned.source.spec.qualified_name)
    if written is None:
        schema = {c.name: c.type for c in plan.columns}
        views = column_views(schema, planned, plan.columns)
        return NodePreview(WRITTEN, index, views, [], None, error)
    return NodePreview(
        WRITTEN,
        index,
        column_views(written.schema, planned, plan.columns),
        frame_rows(written.sample),
        written.rows if written.rows >= 0 else None,
    )
