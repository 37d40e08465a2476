"""Data after every step of a draft: the builder's node previews, by `mesh preview`'s path.

A draft's text is planned in place of its file (`planning.py`), then previewed by the path
`mesh preview` takes (`dev/preview.py`: the inputs read by `preview_inputs`, the same engine,
the masking on read the plan carries for the draft's domain, the subscription check before
anything is read, and a scoped subscription's columns only). Errors are the platform's messages
(a spec error with file, line and fix; a failed step as `run/failures.py` reports it) on the
node that failed: a spec error on the step, input or contract its line points at, a failed step
on that step (the steps before it still show their rows), a refused read on every node (nothing
was read).

`preview_node` computes one node alone (what the page asks when a node is selected): the steps
up to it, its first rows with a LIMIT, its row count only when asked (`count=True`, or
`count_node`); `nodes.py` does the computing, reusing the small results a warm process keeps.
`preview_draft` is every node, each by `preview_node` (with counts).

A warm process (the web server) keeps what is safe to keep (`Warm`): the engine with its
functions, each input's dataset keyed by its table's Delta version (a table changes only when
materialized, which makes a new version), a draft's plans keyed by its text and the
modification times of the spec files it is planned against, and small step results keyed by
the domain, the planned steps and the inputs' Delta versions (`results.py`). The subscription
check is never kept: it runs on every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mesh_platform.builder.errors import DraftRefused
from mesh_platform.builder.nodes import node_data, node_name
from mesh_platform.builder.planning import PlannedDraft, plan_draft
from mesh_platform.builder.subscribing import input_state, request_access
from mesh_platform.builder.views import ColumnView, DraftLike, NodePreview
from mesh_platform.builder.warm import Warm, warm
from mesh_platform.dev.preview import WRITTEN, preview_failure
from mesh_platform.errors import EngineFailure, MeshError, SpecError, StepFailed, every_error
from mesh_platform.spec.yaml_source import read_yaml, to_plain

__all__ = [
    "ColumnView",
    "NodePreview",
    "count_node",
    "input_state",
    "node_indexes",
    "preview_draft",
    "preview_node",
    "request_access",
]


def preview_draft(
    draft: DraftLike, rows: int = 20, *, cache: Warm | None = None, count: bool = True
) -> list[NodePreview]:
    """Every node of the draft (inputs, steps, the product as written) with its sample and
    row count (`count=False`: only where known without counting): `preview_node` of each."""
    found = cache or warm()
    return [
        preview_node(draft, index, rows, cache=found, count=count)
        for index in node_indexes(draft, cache=found)
    ]


def node_indexes(draft: DraftLike, *, cache: Warm | None = None) -> list[int]:
    """The draft's nodes: its inputs (-1, -2, ...), its steps (0, 1, ...), the product."""
    found = cache or warm()
    text = draft.text()
    try:
        planned = found.planned(draft.root, draft.domain, draft.name, text, plan_draft)
    except SpecError:
        layout = _layout(draft, text)
        return [-i for i in range(1, len(layout.inputs) + 1)] + list(range(len(layout.steps) + 1))
    spec = planned.source.spec
    steps = 1 if spec.source is not None else len(planned.plan.steps)
    written = [steps] if steps else []  # no step yet: no product to show
    return [-i for i in range(1, len(spec.input_refs()) + 1)] + list(range(steps)) + written


def preview_node(
    draft: DraftLike,
    index: int,
    rows: int = 20,
    *,
    cache: Warm | None = None,
    count: bool = False,
) -> NodePreview:
    """Node `index` of the draft alone: an input (-1, -2, ...), a step (0, 1, ...) or the
    product as written (the number of steps). Its row count is given when `count` (or known
    without counting: a kept result), else None. The subscription check runs on every call."""
    found = cache or warm()
    text = draft.text()
    if index not in node_indexes(draft, cache=found):
        raise DraftRefused(f"the draft has no node {index}: reload the builder page")
    try:
        planned = found.planned(draft.root, draft.domain, draft.name, text, plan_draft)
    except SpecError as exc:
        return _spec_node(draft, text, exc, index, rows, found, count)
    return _planned_node(planned, draft.root, index, rows, found, count)


def count_node(draft: DraftLike, index: int, *, cache: Warm | None = None) -> int | None:
    """Node `index`'s exact row count (None when it has no data: an error)."""
    return preview_node(draft, index, 0, cache=cache, count=True).row_count


def _planned_node(
    planned: PlannedDraft, root: Path, index: int, rows: int, cache: Warm, count: bool
) -> NodePreview:
    name = node_name(planned, index)
    try:
        scopes = cache.access(planned.source.spec, root)  # asked on every call, never kept
        return node_data(planned, index, scopes, rows, cache, count)
    except (StepFailed, EngineFailure) as exc:
        steps = planned.plan.steps
        failed = next((i for i, s in enumerate(steps) if s.name == exc.step), 0)
        if index != failed:  # a step before this node failed: nothing to show here
            return NodePreview(name, index, (), [], None)
        return NodePreview(name, index, (), [], None, preview_failure(exc, planned.source))
    except MeshError as exc:  # refused before reading: the message on every node
        return NodePreview(name, index, (), [], None, preview_failure(exc, planned.source))


def _spec_node(
    draft: DraftLike, text: str, exc: SpecError, index: int, rows: int, cache: Warm, count: bool
) -> NodePreview:
    """A node of a draft that does not plan: the errors whose line points at it (a step, an
    input, else the product); before the first failing step, its rows."""
    layout = _layout(draft, text)
    errors: dict[int, list[str]] = {}
    for error in every_error(exc):
        errors.setdefault(layout.node_of(error.line), []).append(str(error))
    first = min((i for i in errors if 0 <= i < len(layout.steps)), default=0)
    if first and index < first:
        found = _before_failure(draft, text, first, index, rows, cache, count)
        if found is not None:
            return found
    if index < 0:
        name = list(layout.inputs)[-index - 1]
    else:
        name = layout.steps[index] if index < len(layout.steps) else WRITTEN
    return NodePreview(name, index, (), [], None, "\n".join(errors.get(index, [])) or None)


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
    draft: DraftLike, text: str, failed: int, index: int, rows: int, cache: Warm, count: bool
) -> NodePreview | None:
    """Node `index` (before the failed step) of the draft cut before the failed step, planned
    on its own (without the contract and rules, which speak of the last step); None if that
    fails too."""
    import yaml

    raw = to_plain(read_yaml(Path(draft.name), text).data)
    raw["steps"] = raw["steps"][:failed]
    for field in ("columns", "quality", "partitioning"):
        raw.pop(field, None)
    raw["visibility"] = "internal"
    try:
        cut = yaml.safe_dump(raw)
        planned = cache.planned(draft.root, draft.domain, draft.name, cut, plan_draft)
    except MeshError:
        return None
    node = _planned_node(planned, draft.root, index, rows, cache, count)
    return node if node.error is None else None
