"""What a node of the builder's pipeline shows: its columns (type, tags, formula, masked flag),
first rows, row count or error. The columns' tags and formulas come from planning (column
lineage), their types from the engine's result where the plan does not know them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mesh_platform.errors import SpecError

if TYPE_CHECKING:
    import polars as pl

    from mesh_platform.builder.planning import PlannedDraft
    from mesh_platform.compile.plan import ColumnPlan


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
    product as written (the last index); its columns, first rows and row count (None when not
    counted), or the error."""

    step: str
    index: int
    columns: tuple[ColumnView, ...]
    rows: list[dict[str, Any]]
    row_count: int | None
    error: str | None = None


def input_tags(planned: PlannedDraft, port: str) -> dict[str, tuple[str, ...]]:
    """An input's column tags: another domain's from its contract, the domain's own from its
    plan."""
    planner = planned.planner
    ref = planned.source.spec.input_refs()[port]
    try:
        if ref[0] == planned.source.spec.domain:
            upstream = planner.plan(planner.products[ref])
            return {c.name: c.tags for c in upstream.columns}
        return {k: tuple(v) for k, v in planner.contracts.contract(ref).tags.items()}
    except (KeyError, SpecError):  # an input that does not plan: no tags
        return {}


def arrow_type(arrow: object) -> str:
    from mesh_platform.column_types import from_arrow

    return from_arrow(arrow)  # type: ignore[arg-type]


def _masked(column: ColumnPlan | None, planned: PlannedDraft) -> bool:
    """Whether a column is computed from a column its domain reads masked."""
    if column is None:
        return False
    return any(
        port in planned.masks and name in planned.masks[port].columns
        for port, name in column.sources
    )


def column_views(
    schema: dict[str, str], planned: PlannedDraft, columns: tuple[ColumnPlan, ...]
) -> tuple[ColumnView, ...]:
    """The columns of a result (`schema`: the engine's types) with the plan's types, tags,
    formulas and masked flags."""
    by_name = {c.name: c for c in columns}
    views = []
    for name, engine_type in schema.items():
        col = by_name.get(name)
        typ = col.type if col is not None and col.type != "unknown" else engine_type
        formula = col.formula if col is not None and col.formula != name else None
        tags = col.tags if col is not None else ()
        views.append(ColumnView(name, typ, tags, formula, _masked(col, planned)))
    return tuple(views)


def frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()
