"""A product's write settings at load: what cannot work is a SpecError with its line and fix.

Refused: keys or an incremental column missing from the contract, an incremental column that
is not a date or timestamp or is not taken unchanged from one input column (the input rows
are filtered on that column, so a computed one would filter the wrong rows), `append` without
`incremental`, a `delete_when` that is not a condition over the result's columns, and the
settings `spec/writes.py` finds contradictory. (A merge key that is not unique is refused on
a test sample by `mesh test`, and at run time before anything is written.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from sqlglot import exp

from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.sql import SqlProblem
from mesh_platform.spec.writes import SCD2_COLUMNS, write_shape_problems

if TYPE_CHECKING:
    from mesh_platform.spec.loading import ProductSource


class ColumnPlan(Protocol):
    """What is read of a planned output column (`compile/plan.py`'s)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def sources(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def formula(self) -> str: ...


_TIME_TYPES = ("date", "timestamp")


def validate_writes(source: ProductSource, columns: Sequence[ColumnPlan]) -> None:
    """Raise a SpecError (file, line, fix) for write settings the product cannot run with."""
    spec = source.spec
    for field, problem, fix in write_shape_problems(
        spec.write,
        spec.keys,
        spec.delete_when,
        spec.incremental,
        landing=spec.source is not None,
        partitioned=spec.partitioning is not None,
        folder=spec.source is not None and spec.source.folder,
    ):
        raise source.error(problem, field, fix=fix)
    by_name = {c.name: c for c in columns}
    if not by_name:  # a product whose result is not known at load: checked at run time
        return
    _check_keys(source, by_name)
    if spec.write == "scd2":
        clash = [c for c in SCD2_COLUMNS if c in by_name]
        if clash:
            raise source.error(
                f"`write: scd2` adds the columns {', '.join(SCD2_COLUMNS)}; the result "
                f"already has {', '.join(clash)}",
                "write",
                fix=f"rename {', '.join(clash)} in the last step",
            )
    if spec.delete_when is not None:
        _check_delete_when(source, spec.delete_when, by_name)
    if spec.incremental is not None:
        incremental_source(source, by_name)


def _check_keys(source: ProductSource, by_name: dict[str, ColumnPlan]) -> None:
    for index, key in enumerate(source.spec.keys):
        if key not in by_name:
            raise source.error(
                f"key {key!r} is not a column of the product; it has: {', '.join(by_name)}",
                "keys",
                index,
                fix="name columns of the last step's result (the contract)",
            )


def _check_delete_when(
    source: ProductSource, condition: str, by_name: dict[str, ColumnPlan]
) -> None:
    try:
        query = sqlmod.parse(f"SELECT * FROM result WHERE {condition}")
        parsed = query.args["where"]
    except (SqlProblem, KeyError) as exc:
        raise source.error(
            f"`delete_when` is not a SQL condition: {getattr(exc, 'message', exc)}",
            "delete_when",
            fix="write a condition over the result's columns, e.g. `op = 'D'`",
        ) from None
    unknown = sorted({c.name for c in parsed.find_all(exp.Column)} - set(by_name))
    if unknown:
        raise source.error(
            f"`delete_when` names {', '.join(unknown)}, not columns of the product; it has: "
            f"{', '.join(by_name)}",
            "delete_when",
            fix="use columns of the last step's result (keep the deletion flag in it)",
        )


def incremental_source(source: ProductSource, by_name: dict[str, ColumnPlan]) -> tuple[str, str]:
    """The (input port, column) an incremental product's input rows are filtered on."""
    incremental = source.spec.incremental
    assert incremental is not None
    column = by_name.get(incremental.column)
    if column is None:
        raise source.error(
            f"incremental column {incremental.column!r} is not a column of the product; it "
            f"has: {', '.join(by_name)}",
            "incremental",
            "column",
            fix="name a date or timestamp column of the last step's result",
        )
    passed = len(column.sources) == 1 and _unchanged(column.formula, column.sources[0][1])
    if not passed:
        raise source.error(
            f"incremental column {incremental.column!r} is computed ({column.formula}), not "
            "taken unchanged from one input column: the input rows could not be filtered on it",
            "incremental",
            "column",
            fix="select the input's date or timestamp column as it is (renaming is fine)",
        )
    if not column.type.startswith(_TIME_TYPES):
        raise source.error(
            f"incremental column {incremental.column!r} is {column.type}, not a date or timestamp",
            "incremental",
            "column",
            fix="name a date or timestamp column (CAST it in the input's product if needed)",
        )
    return column.sources[0]


def _unchanged(formula: str, source_column: str) -> bool:
    return formula.strip().split(".")[-1].strip('`"') == source_column
