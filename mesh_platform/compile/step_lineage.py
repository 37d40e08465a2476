"""Lineage through the steps after a product's leading run of SQL steps.

Tags follow values, not names, so a step whose code may move any value into any column gives
each of its columns every column it received:

- a Python step: the frame it received, and the product's inputs when it takes them (a second
  parameter); its columns read `from_<step>(...)` over all of those in their formula;
- a standard step run in polars keeps each column's values under its name (the platform's
  steps that rename or compute run as SQL, where lineage sees them); one whose output names
  differ from what it received is treated like a Python step;
- a SQL step after those: every column of every table it names.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlglot import exp

from mesh_platform.column_types import Schema
from mesh_platform.registry.functions import STEP_PREFIX


class LineageStep(Protocol):
    """What lineage reads of a planned step (`plan.PlannedStep`)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def query(self) -> exp.Query | None: ...
    @property
    def output(self) -> Schema | None: ...


@dataclass(frozen=True)
class ColumnLineage:
    """Where an output column comes from and the expression that computes it."""

    sources: tuple[tuple[str, str], ...]
    formula: str


@dataclass(frozen=True)
class Frame:
    """What a step's result holds: known columns, and `rest` for any column not known by name."""

    known: Mapping[str, ColumnLineage]
    rest: ColumnLineage | None = None

    def get(self, name: str) -> ColumnLineage | None:
        """The lineage of column `name`."""
        return self.known.get(name, self.rest)

    def everything(self) -> list[ColumnLineage]:
        """Every column's lineage."""
        return [*self.known.values(), *([self.rest] if self.rest else [])]


def input_columns(schemas: Mapping[str, Schema]) -> dict[str, Frame]:
    """Each input's columns, as lineage leaves."""
    return {
        port: Frame({c: ColumnLineage(((port, c),), c) for c in schema})
        for port, schema in schemas.items()
    }


def after(
    steps: Sequence[LineageStep],
    prefix: Mapping[str, Mapping[str, ColumnLineage]],
    inputs: Mapping[str, Frame],
) -> Frame:
    """The lineage of the last step's columns, `steps` following the leading SQL steps
    (`prefix`: the last of them by name, its columns' lineage)."""
    frames: dict[str, Frame] = dict(inputs)
    frames.update({name: Frame(columns) for name, columns in prefix.items()})
    previous = frames[next(iter(prefix))] if prefix else None
    for step in steps:
        received = previous.everything() if previous else _all(inputs.values())
        if step.query is not None:  # SQL: every column of every table it names
            named = {t.name for t in step.query.find_all(exp.Table)}
            received = _all(frames[n] for n in sorted(named) if n in frames)
        elif step.kind == "python" and _takes_inputs(getattr(step, "python", None)):
            received = [*received, *_all(inputs.values())]
        elif _keeps_names(step, previous):
            assert previous is not None
            frames[step.name] = previous
            continue
        whole = _union(f"{STEP_PREFIX}{step.name}", received)
        known = {n: whole for n in step.output} if step.output else {}
        frames[step.name] = previous = Frame(known, whole)
    assert previous is not None
    return previous


def _keeps_names(step: LineageStep, previous: Frame | None) -> bool:
    """A standard step run in polars whose result has exactly the columns it received."""
    return (
        step.kind == "standard"
        and previous is not None
        and previous.rest is None
        and step.output is not None
        and list(step.output) == list(previous.known)
    )


def _all(frames: Iterable[Frame]) -> list[ColumnLineage]:
    return [lineage for frame in frames for lineage in frame.everything()]


def _union(name: str, parts: list[ColumnLineage]) -> ColumnLineage:
    """One lineage for a value that may come from any of `parts`: their sources, and a formula
    `from_<step>(...)` over their formulas (protections in them still count)."""
    sources = tuple(sorted({s for part in parts for s in part.sources}))
    formulas = list(dict.fromkeys(part.formula for part in parts))
    return ColumnLineage(sources, f"{name}({', '.join(formulas)})")


def _takes_inputs(ref: str | None) -> bool:
    """Whether Python step `module:function` takes the inputs (a second parameter), read
    from its source as the run decides it (`access/readonly.py` `takes_inputs`); True when
    the source cannot tell (the conservative answer)."""
    if not ref:
        return True
    module_name, _, name = ref.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return True
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (ImportError, SyntaxError, ValueError, OSError):
        return True
    defined = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
    ]
    assigned = any(
        isinstance(target, ast.Name) and target.id == name
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    )
    if not defined or assigned:
        return True  # defined otherwise (assigned, imported): the source cannot tell
    return any(
        len([*d.args.posonlyargs, *d.args.args]) >= 2 or d.args.vararg is not None for d in defined
    )
