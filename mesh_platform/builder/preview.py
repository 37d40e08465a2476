"""Data after every step of a draft: the builder's node previews, by `mesh preview`'s path.

A draft's text is planned in place of its file (`planning.py`), then previewed by
`dev/preview.py` `preview_plan`, the function `mesh preview` runs: the same engine, the masking
on read the plan carries for the draft's domain, the subscription check before anything is read,
and a scoped subscription's columns only. Errors are the platform's messages (a spec error with
file, line and fix; a failed step as `run/failures.py` reports it) on the node that failed: a
spec error on the step, input or contract its line points at, a failed step on that step (the
steps before it still show their rows), a refused read on every node (nothing was read).

A warm process (the web server) keeps what is safe to keep (`Warm`): the engine with its
functions, each input's dataset keyed by its table's Delta version (a table changes only when
materialized, which makes a new version), and a draft's plans keyed by its text and the
modification times of the spec files it is planned against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mesh_platform.builder.planning import PlannedDraft, plan_draft, plan_prefix
from mesh_platform.builder.subscribing import input_state, request_access
from mesh_platform.builder.warm import Warm, warm
from mesh_platform.compile.plan import ColumnPlan, ProductPlan
from mesh_platform.dev.preview import WRITTEN, preview_failure, preview_plan, written_preview
from mesh_platform.engine import StepPreview
from mesh_platform.errors import EngineFailure, MeshError, SpecError, StepFailed, every_error
from mesh_platform.spec.yaml_source import read_yaml, to_plain

if TYPE_CHECKING:
    import polars as pl

    from mesh_platform.access.scope import Scopes


__all__ = [
    "ColumnView",
    "NodePreview",
    "input_state",
    "preview_draft",
    "request_access",
]


class DraftLike(Protocol):
    """What a preview reads of a draft (`builder/draft.py` `Draft`)."""

    root: Path
    domain: str
    name: str

    def text(self) -> str: ...


@dataclass(frozen=True)
class ColumnView:
    """A column at a node: its type, tags (e.g. pii), formula (lineage) and whether the reader
    sees it masked."""

    name: str
    type: str
    tags: tuple[str, ...]
    formula: str | None
    masked: bool


@dataclass(frozen=True)
class NodePreview:
    """One node of the pipeline: an input (index -1, -2, ...), a step (0, 1, ...) or the
    product as written (the last index); its columns, first rows and row count, or the error."""

    step: str
    index: int
    columns: tuple[ColumnView, ...]
    rows: list[dict[str, Any]]
    row_count: int | None
    error: str | None = None


def preview_draft(
    draft: DraftLike, rows: int = 20, *, cache: Warm | None = None
) -> list[NodePreview]:
    """Every node of the draft (inputs, steps, the product as written) with its sample."""
    found = cache or warm()
    text = draft.text()
    try:
        planned = found.planned(draft.root, draft.domain, draft.name, text, plan_draft)
    except SpecError as exc:
        return _spec_failure(draft, text, exc, rows, found)
    try:
        scopes = found.access(planned.source.spec, draft.root)
    except MeshError as exc:  # refused before reading: the message on every node
        return _everywhere(planned, preview_failure(exc, planned.source))
    return _previews(planned, scopes, rows, found)


def _previews(
    planned: PlannedDraft, scopes: Scopes | None, rows: int, cache: Warm
) -> list[NodePreview]:
    spec, plan = planned.source.spec, planned.plan
    try:
        inputs = _input_nodes(planned, scopes, rows, cache)
        steps = _run(planned, plan, scopes, rows, cache)
    except (StepFailed, EngineFailure) as exc:
        return _step_failure(planned, scopes, rows, cache, exc)
    except MeshError as exc:  # refused before reading (a column outside the scope)
        return _everywhere(planned, preview_failure(exc, planned.source))
    nodes = inputs + [
        _step_node(planned, i, s, cache.prefix_columns(planned, i + 1, plan_prefix))
        for i, s in enumerate(steps)
    ]
    if steps:
        written, error = written_preview(steps[-1], plan, spec.qualified_name)
        nodes.append(_written_node(planned, len(steps), written, error, rows))
    return nodes


def _run(
    planned: PlannedDraft, plan: ProductPlan, scopes: Scopes | None, rows: int, cache: Warm
) -> list[StepPreview]:
    spec = planned.source.spec
    return preview_plan(
        spec,
        plan,
        cache.lakehouse,
        cache.keys,
        rows,
        access=lambda _: scopes,
        engine=cache.engine(spec.engine),
        dataset=cache.dataset,
    )


def _input_nodes(
    planned: PlannedDraft, scopes: Scopes | None, rows: int, cache: Warm
) -> list[NodePreview]:
    """Each input as this domain reads it: within the subscription's scope, masked."""
    from mesh_platform.run.scope import scoped_ports, scoped_read

    spec = planned.source.spec
    ports = scoped_ports(spec, scopes)
    tags = _input_tags(planned)
    nodes = []
    for number, (port, ref) in enumerate(spec.input_refs().items(), start=1):
        data = cache.dataset(ref)
        head = data.head(rows)
        if port in ports:
            head = scoped_read(head, ports[port])
        mask = planned.masks.get(port)
        select = ", ".join(mask.select) if mask else "*"
        engine = cache.engine(spec.engine)
        sample = engine.query(f"SELECT {select} FROM {port}", {port: head})
        masked = set(mask.columns) if mask else set()
        columns = tuple(
            ColumnView(
                f.name, _type(f.type), tags.get(port, {}).get(f.name, ()), None, f.name in masked
            )
            for f in sample.schema
        )
        nodes.append(NodePreview(port, -number, columns, sample.to_pylist(), data.count_rows()))
    return nodes


def _input_tags(planned: PlannedDraft) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each input's column tags: another domain's from its contract, the domain's own from its
    plan."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    planner = planned.planner
    for port, ref in planned.source.spec.input_refs().items():
        try:
            if ref[0] == planned.source.spec.domain:
                upstream = planner.plan(planner.products[ref])
                found[port] = {c.name: c.tags for c in upstream.columns}
            else:
                found[port] = {k: tuple(v) for k, v in planner.contracts.contract(ref).tags.items()}
        except (KeyError, SpecError):
            found[port] = {}
    return found


def _type(arrow_type: object) -> str:
    from mesh_platform.column_types import from_arrow

    return from_arrow(arrow_type)  # type: ignore[arg-type]


def _masked(column: ColumnPlan | None, planned: PlannedDraft) -> bool:
    """Whether a column is computed from a column its domain reads masked."""
    if column is None:
        return False
    return any(
        port in planned.masks and name in planned.masks[port].columns
        for port, name in column.sources
    )


def _views(
    schema: dict[str, str], planned: PlannedDraft, columns: tuple[ColumnPlan, ...]
) -> tuple[ColumnView, ...]:
    by_name = {c.name: c for c in columns}
    views = []
    for name, engine_type in schema.items():
        col = by_name.get(name)
        typ = col.type if col is not None and col.type != "unknown" else engine_type
        formula = col.formula if col is not None and col.formula != name else None
        tags = col.tags if col is not None else ()
        views.append(ColumnView(name, typ, tags, formula, _masked(col, planned)))
    return tuple(views)


def _step_node(
    planned: PlannedDraft, index: int, step: StepPreview, columns: tuple[ColumnPlan, ...]
) -> NodePreview:
    return NodePreview(
        step.name,
        index,
        _views(step.schema, planned, columns),
        _rows(step.sample),
        step.rows,
    )


def _written_node(
    planned: PlannedDraft, index: int, written: StepPreview | None, error: str | None, rows: int
) -> NodePreview:
    plan = planned.plan
    if written is None:
        schema = {c.name: c.type for c in plan.columns}
        return NodePreview(WRITTEN, index, _views(schema, planned, plan.columns), [], None, error)
    return NodePreview(
        WRITTEN,
        index,
        _views(written.schema, planned, plan.columns),
        _rows(written.sample),
        written.rows,
    )


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def _everywhere(planned: PlannedDraft, message: str) -> list[NodePreview]:
    """Every node with the same message (a read refused before anything was read)."""
    spec = planned.source.spec
    names = [(port, -i) for i, port in enumerate(spec.input_refs(), start=1)]
    names += [(s.name, i) for i, s in enumerate(planned.plan.steps)]
    names.append((WRITTEN, len(planned.plan.steps)))
    return [NodePreview(name, index, (), [], None, message) for name, index in names]


def _step_failure(
    planned: PlannedDraft,
    scopes: Scopes | None,
    rows: int,
    cache: Warm,
    exc: StepFailed | EngineFailure,
) -> list[NodePreview]:
    """The steps before the failed one with their rows, the failed one with the error, the
    steps after it (and the product) not computed."""
    steps = planned.plan.steps
    failed = next((i for i, s in enumerate(steps) if s.name == exc.step), 0)
    before: list[StepPreview] = []
    if failed:
        before = _run(planned, replace(planned.plan, steps=steps[:failed]), scopes, rows, cache)
    nodes = _input_nodes(planned, scopes, rows, cache)
    nodes += [
        _step_node(planned, i, s, cache.prefix_columns(planned, i + 1, plan_prefix))
        for i, s in enumerate(before)
    ]
    message = preview_failure(exc, planned.source)
    nodes.append(NodePreview(steps[failed].name, failed, (), [], None, message))
    nodes += [NodePreview(s.name, i, (), [], None) for i, s in enumerate(steps) if i > failed]
    nodes.append(NodePreview(WRITTEN, len(steps), (), [], None))
    return nodes


def _spec_failure(
    draft: DraftLike, text: str, exc: SpecError, rows: int, cache: Warm
) -> list[NodePreview]:
    """A draft that does not plan: each error on the node its line points at (a step, an
    input, else the product); the steps before the first failing step with their rows."""
    layout = _layout(draft, text)
    errors: dict[int, list[str]] = {}
    for error in every_error(exc):
        errors.setdefault(layout.node_of(error.line), []).append(str(error))
    named = [(port, -i) for i, port in enumerate(layout.inputs, start=1)]
    named += [(step, i) for i, step in enumerate(layout.steps)]
    named.append((WRITTEN, len(layout.steps)))
    nodes = {
        index: NodePreview(name, index, (), [], None, "\n".join(errors.get(index, [])) or None)
        for name, index in named
    }
    first = min((i for i in errors if 0 <= i < len(layout.steps)), default=0)
    if first:
        for node in _before_failure(draft, text, first, rows, cache):
            nodes[node.index] = node
    return list(nodes.values())


@dataclass(frozen=True)
class Layout:
    """The draft's inputs and steps as written, with their lines (where errors point)."""

    inputs: dict[str, int | None]
    steps: list[str]
    step_lines: list[int | None]
    steps_end: int | None  # the line of the field after `steps:`, if any

    def node_of(self, line: int | None) -> int:
        """The node a spec error's line points at: an input, a step, else the product."""
        for number, at in enumerate(self.inputs.values(), start=1):
            if line is not None and at == line:
                return -number
        product = len(self.steps)
        if line is None or not self.step_lines or self.step_lines[0] is None:
            return product
        if line < self.step_lines[0] or (self.steps_end is not None and line >= self.steps_end):
            return product
        return max(i for i, at in enumerate(self.step_lines) if at is None or at <= line)


def _layout(draft: DraftLike, text: str) -> Layout:
    from mesh_platform.builder.planning import draft_path
    from mesh_platform.compile.plan import step_name

    try:
        document = read_yaml(draft_path(draft.root, draft.domain, draft.name), text)
    except SpecError:
        return Layout({}, [], [], None)
    raw = to_plain(document.data)
    inputs = raw.get("inputs") if isinstance(raw.get("inputs"), dict) else {}
    steps = raw.get("steps") if isinstance(raw.get("steps"), list) else []
    keys = list(raw)
    after = keys[keys.index("steps") + 1] if "steps" in keys[:-1] else None
    return Layout(
        {str(p): document.line_of(["inputs", p]) for p in inputs or {}},
        [
            step_name(i, s.get("name") if isinstance(s, dict) else None)
            for i, s in enumerate(steps or [])
        ],
        [document.line_of(["steps", i]) for i in range(len(steps or []))],
        document.line_of([after]) if after else None,
    )


def _before_failure(
    draft: DraftLike, text: str, failed: int, rows: int, cache: Warm
) -> list[NodePreview]:
    """The inputs and the steps before the failed one, planned and previewed on their own
    (without the contract and rules, which speak of the last step); none if that fails too."""
    import yaml

    from mesh_platform.builder.planning import plan_draft

    raw = to_plain(read_yaml(Path(draft.name), text).data)
    raw["steps"] = raw["steps"][:failed]
    for field in ("columns", "quality", "partitioning"):
        raw.pop(field, None)
    raw["visibility"] = "internal"
    try:
        planned = plan_draft(draft.root, draft.domain, draft.name, yaml.safe_dump(raw))
        scopes = cache.access(planned.source.spec, draft.root)
        nodes = _previews(planned, scopes, rows, cache)
    except MeshError:
        return []
    return [n for n in nodes if n.index < failed and n.error is None]
