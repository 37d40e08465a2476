"""Masked columns from the consumer's side: what a consumer's steps do with the columns the
access policy masks for its domain.

A consumer without clearance reads a masked column as the policy's mask gives it (`C***`), so
anything computed from it is computed from the masked values: `substring(c_phone, 1, 2)` gives
`C*`, `GROUP BY c_name` puts every customer in one group. The planner follows each masked value
through the consumer's steps (`masked_uses`, over every scope of each SQL step: WITH queries,
subqueries, UNION branches, earlier steps) and classifies each use:

- passed through (selected, renamed) or counted (`count(col)`): fine, nothing said;
- computed over (a function, a filter, a grouping, an ordering, `DISTINCT`,
  `count(DISTINCT col)`: masked values collide): a warning of `mesh validate` (`warnings`);
- given to a keyed security function (`pseudonymize`, `encrypt_det`, the standard steps
  `pseudonymize` and `encrypt`) or used as a join key (`JOIN ... ON/USING`, `IN (SELECT ...)`,
  an equality with another table's column): refused (`refuse`), since every masked value
  gives one token and a join matches the wrong rows.

Every message names the clearance that would give clear values and how to request it. The
per-step result (which columns of each step carry masked values) is what `mesh preview` marks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from mesh_platform.access.masked_sql import Origin, Taints, Use, sql_uses
from mesh_platform.access.policy import ColumnAccess, access_policy
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.registry import registry
from mesh_platform.spec.loading import ProductSource

if TYPE_CHECKING:
    from mesh_platform.column_types import Schema
    from mesh_platform.compile.plan import PlannedStep, ProductPlan

Key = tuple[str, str]
Kind = Literal["computed", "distinct_count", "null_count", "join_key", "security"]
REFUSED: frozenset[str] = frozenset({"join_key", "security"})


class InputMask(Protocol):
    """What the analysis reads of an input's masking (`access/masking.py` `InputMask`)."""

    @property
    def schema(self) -> Schema: ...
    @property
    def columns(self) -> Mapping[str, ColumnAccess]: ...


@dataclass(frozen=True)
class MaskedUse:
    """One use of a masked value by a step: where, how, and which masked column it comes from."""

    step: str
    index: int
    kind: str
    origin: Origin
    expression: str
    column: str

    @property
    def refused(self) -> bool:
        """Whether the use is refused (a security function, a join key), not only told."""
        return self.kind in REFUSED


@dataclass(frozen=True)
class MaskedReport:
    """What a consumer's steps do with the columns masked for its domain."""

    product: Key
    consumer: str
    access: Mapping[str, Mapping[str, ColumnAccess]]  # port -> column -> decision
    uses: tuple[MaskedUse, ...] = ()
    steps: Mapping[str, Mapping[str, Taints]] = field(default_factory=dict)

    def describe(self, step: str) -> dict[str, str]:
        """The columns of `step`'s result carrying masked values, each with how and why:
        `{"c_name": "redact: tag 'pii': clear for clearance 'pii'"}`."""
        return {
            column: "; ".join(self._origin(column, o) for o in sorted(origins))
            for column, origins in self.steps.get(step, {}).items()
            if origins
        }

    def by_step(self) -> dict[str, dict[str, str]]:
        """`describe` of every step that has masked columns, by step name."""
        return {step: found for step in self.steps if (found := self.describe(step))}

    def _origin(self, column: str, origin: Origin) -> str:
        decided = self.access[origin.port][origin.column]
        how = f"{decided.step.use}: " if decided.step and decided.action == "masked" else ""
        how = how or "hidden, reads NULL: "
        if origin.raw and origin.column == column:
            return f"{how}{decided.because}"
        verb = "from" if origin.raw else "computed from"
        return f"{verb} {origin.port}.{origin.column}, {how}{decided.because}"


def masked_uses(
    source: ProductSource, plan: ProductPlan, masks: Mapping[str, InputMask]
) -> MaskedReport:
    """Follow the masked columns of `masks` through `plan`'s steps (the plan before masking)."""
    frames: dict[str, dict[str, Taints]] = {
        port: {c: frozenset({Origin(port, c, True)}) for c in mask.columns}
        for port, mask in masks.items()
    }
    schemas = {port: dict(mask.schema) for port, mask in masks.items()}
    hidden = {
        Origin(port, c, True)
        for port, mask in masks.items()
        for c, d in mask.columns.items()
        if d.action == "hidden" or d.step is None or d.step.use == "nullify"
    }
    uses: list[MaskedUse] = []
    steps: dict[str, dict[str, Taints]] = {}
    previous: str | None = None
    for index, step in enumerate(plan.steps):
        received = frames.get(previous, {}) if previous else {}
        if step.query is not None:
            found, out = sql_uses(step.query, frames, schemas, hidden)
        else:
            found, out = _frame_step(step, received)
        uses.extend(_use(step, index, use) for use in found)
        frames[step.name] = steps[step.name] = out
        schemas[step.name] = dict(step.output or {})
        previous = step.name
    access = {port: dict(mask.columns) for port, mask in masks.items()}
    return MaskedReport(source.spec.key, source.spec.domain, access, _unique(uses), steps)


def _use(step: PlannedStep, index: int, use: Use) -> MaskedUse:
    shown = use.expression
    if step.kind == "standard" and step.query is not None:
        shown = f"the standard step {step.standard!r}: {shown}"
    return MaskedUse(step.name, index, use.kind, use.origin, shown, use.column)


def _unique(uses: list[MaskedUse]) -> tuple[MaskedUse, ...]:
    """One use per step, kind and masked column (a GROUP BY repeats the SELECT's expression)."""
    seen: dict[tuple[str, str, Origin], MaskedUse] = {}
    for use in uses:
        seen.setdefault((use.step, use.kind, use.origin), use)
    return tuple(seen.values())


def _frame_step(
    step: PlannedStep, received: Mapping[str, Taints]
) -> tuple[list[Use], dict[str, Taints]]:
    """A step run in polars (a Python step, a standard step without SQL): what it does with
    the masked columns it receives, and which of its columns carry them (by name)."""
    raw = {name: origins for name, origins in received.items() if any(o.raw for o in origins)}
    derived = {name: frozenset(o.derived() for o in origins) for name, origins in received.items()}
    if step.kind == "python":
        uses = [
            Use("computed", origin, f"python step {step.python}", name)
            for name, origins in raw.items()
            for origin in origins
            if origin.raw
        ]
        return uses, {n: o for n, o in derived.items() if o}
    named = _param_columns(step.params)
    uses = [
        Use("computed", origin, f"standard step {step.standard} on {name}", name)
        for name in named
        for origin in raw.get(name, ())
        if origin.raw
    ]
    out = {n: (derived[n] if n in named else o) for n, o in received.items() if o}
    return uses, out


def _param_columns(params: object) -> tuple[str, ...]:
    """The columns a standard step's parameters name (`columns`, `keys`)."""
    found: list[str] = []
    for name in ("columns", "keys"):
        value = getattr(params, name, ())
        found.extend(value if isinstance(value, tuple | list) else list(value or ()))
    return tuple(found)


def clearances_for(decided: ColumnAccess) -> tuple[str, ...]:
    """The clearances that would show a column in clear (the rule that decided it)."""
    policy = access_policy()
    for rule in (*policy.columns, *policy.products):
        if decided.because.startswith(f"tag {rule.tag!r}:"):
            return rule.clear_for
    return ()


def _request(consumer: str, decided: ColumnAccess) -> str:
    """How the consumer gets clear values: the clearance and the command asking for it."""
    names = clearances_for(decided)
    if not names:
        return "no clearance shows it in clear (docs/access.md)"
    which = " or ".join(repr(n) for n in names)
    return (
        f"ask for clearance {which}, which gives clear values (the platform team grants it): "
        f'`mesh request-clearance {consumer} {names[0]} --reason "what you need it for"` '
        "(docs/access.md)"
    )


def _sees(decided: ColumnAccess) -> str:
    if decided.action == "hidden" or decided.step is None:
        return "reads as NULL"
    if decided.step.use == "nullify":
        return "reads as NULL (nullify)"
    return f"reads masked by {decided.step.use}, many values alike (e.g. `C***`)"


_PROBLEMS: dict[str, str] = {
    "computed": "computes over {col} ({expr}): the result is computed from the masked values, "
    "not the clear ones",
    "distinct_count": "counts distinct values of {col} ({expr}): masked values collide, so the "
    "count is wrong (count({name}) counts its non-null values correctly)",
    "null_count": "counts {col} ({expr}), which is always NULL here: the count is 0",
    "join_key": "joins on {col} ({expr}): masked values collide, so the join matches rows of "
    "different values (and misses equal ones)",
    "security": "gives {col} to {expr}: every masked value alike gets the same result, so one "
    "token stands for many different values",
}


_FIXES: dict[str, str] = {
    "computed": "pass the column through unchanged, or count it with count(col)",
    "distinct_count": "count it with count(col)",
    "null_count": "leave the count out (the domain sees no value of the column)",
    "join_key": "join on a column the domain sees in clear (a key such as an id)",
    "security": "protect a column the domain sees in clear, or pass the masked one through",
}


def message(report: MaskedReport, use: MaskedUse, source: ProductSource) -> SpecError:
    """The warning or refusal of `use`, naming the file, the line, the column, the clearance
    that would give clear values and how to request it."""
    decided = report.access[use.origin.port][use.origin.column]
    col = f"{use.column!r}" + (
        f" (= {use.origin.port}.{use.origin.column})" if use.column != use.origin.column else ""
    )
    problem = _PROBLEMS[use.kind].format(col=col, expr=use.expression, name=use.column)
    head = f"step {use.step!r} {problem}; {use.origin.port}.{use.origin.column} {_sees(decided)} "
    head += f"for the {report.consumer} domain ({decided.because})"
    fix = _FIXES[use.kind] + ", or " + _request(report.consumer, decided)
    return SpecError(head, file=source.path, line=_line(source, use), fix=fix)


def _line(source: ProductSource, use: MaskedUse) -> int | None:
    """The line of the use: in the step's SQL text, the first line naming the column (and the
    function or keyword around it), else the step's line."""
    step = source.spec.steps[use.index] if use.index < len(source.spec.steps) else None
    sql = getattr(step, "sql", None)
    start = source.sql_start_line(use.index) if sql else None
    if sql and start:
        word = use.expression.split("(")[0].split()[0].lower() if use.expression else ""
        lines = list(enumerate(sql.splitlines()))
        naming = [(n, t) for n, t in lines if use.column.lower() in t.lower()]
        best = [n for n, t in naming if word and word in t.lower()] or [n for n, _ in naming]
        if best:
            return start + best[0]
    return source.line_of("steps", use.index)


def refuse(report: MaskedReport, source: ProductSource) -> None:
    """SpecErrors for every refused use (a security function or join key on a masked column)."""
    refused = [message(report, u, source) for u in report.uses if u.refused]
    if refused:
        raise SpecErrors(refused)


def warnings(report: MaskedReport, source: ProductSource) -> list[SpecError]:
    """The warnings of `mesh validate`: each computation over a masked column."""
    return [message(report, u, source) for u in report.uses if not u.refused]


_REPORTS: ContextVar[dict[Key, tuple[MaskedReport, tuple[SpecError, ...]]] | None] = ContextVar(
    "mesh_masked_use_reports", default=None
)


@contextmanager
def collecting() -> Iterator[dict[Key, tuple[MaskedReport, tuple[SpecError, ...]]]]:
    """Collect the report and warnings of every product planned inside the block (`mesh
    validate` plans the whole mesh in one)."""
    found: dict[Key, tuple[MaskedReport, tuple[SpecError, ...]]] = {}
    token = _REPORTS.set(found)
    try:
        yield found
    finally:
        _REPORTS.reset(token)


def check_masked_use(
    source: ProductSource, plan: ProductPlan, masks: Mapping[str, InputMask]
) -> MaskedReport:
    """The planner's hook (`access/masking.py` `mask_plan`): refuse a security function or a
    join key on a masked column; keep the report and warnings for `collecting`."""
    report = masked_uses(source, plan, masks)
    refuse(report, source)
    collected = _REPORTS.get()
    if collected is not None:
        collected[source.spec.key] = (report, tuple(warnings(report, source)))
    return report


def keyed_functions() -> frozenset[str]:
    """The keyed SQL functions (pseudonymize, encrypt_det, ...): refused on a masked column."""
    return registry().functions.keyed()
