"""The quality part of a spec: freshness SLA, quality rules and the volume guard."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from mesh_platform.spec.fields import Frozen, Name, RuleKind, Severity, Visibility, invalid


class Freshness(Frozen):
    """The freshness SLA: the product must have been updated within `max_age_hours`."""

    max_age_hours: float = Field(gt=0)


class QualityRule(Frozen):
    """A quality rule, evaluated as an asset check on every materialization.

    `error` rules block: the run fails, nothing is written and downstream products do not
    run. `warn` rules record the failure, notify the owning domain and let processing go on.
    """

    rule: RuleKind
    column: str | None = None
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    product: str | None = Field(
        default=None, description="`references`: the input (port or product) holding the keys."
    )
    ref_column: str | None = Field(
        default=None, description="`references`: the key column there (default: `column`)."
    )
    sql: str | None = Field(
        default=None, description="`sql`: a query over the product returning the bad rows."
    )
    severity: Severity = "error"
    name: Name | None = None
    description: str = ""

    @model_validator(mode="after")
    def _needs(self) -> QualityRule:
        needs_column = {"not_null", "accepted_values", "between", "regex", "references"}
        if self.rule in needs_column and not self.column:
            raise ValueError(f"rule {self.rule!r} needs `column:`")
        if self.rule == "unique" and not (self.column or self.columns):
            raise ValueError("rule 'unique' needs `column:` (or `columns:` for a compound key)")
        if self.rule == "accepted_values" and not self.values:
            raise ValueError("rule 'accepted_values' needs `values:` (a list)")
        if self.rule in ("between", "row_count"):
            self._check_range()
        if self.rule == "regex":
            self._check_pattern()
        if self.rule == "references" and not self.product:
            raise ValueError("rule 'references' needs `product:` (an input holding the keys)")
        if self.rule == "sql" and not self.sql:
            raise ValueError("rule 'sql' needs `sql:` (a query returning the bad rows)")
        return self

    def _check_range(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError(f"rule {self.rule!r} needs `min:` and/or `max:`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise invalid(
                f"rule {self.rule!r}: min ({self.min:g}) is above max ({self.max:g}); no "
                f"{'value' if self.rule == 'between' else 'row count'} can pass",
                f"swap min and max (`min: {self.max:g}, max: {self.min:g}`)",
            )

    def _check_pattern(self) -> None:
        if not self.pattern:
            raise ValueError("rule 'regex' needs `pattern:`")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise invalid(
                f"rule 'regex': pattern {self.pattern!r} is invalid: {exc}",
                f"correct the pattern{'' if exc.pos is None else f' at position {exc.pos}'}: "
                "it is a Python regular expression; close each `[`, `(` and `{`, or escape a "
                "literal one with a backslash (`\\[`), and quote the pattern in YAML ('...')",
            ) from None

    @property
    def check_name(self) -> str:
        """The asset check's name: `name`, else derived from the rule and its columns."""
        if self.name:
            return self.name
        cols = self.columns or ((self.column,) if self.column else ())
        return "_".join([self.rule, *cols]) if cols else self.rule

    @property
    def target_columns(self) -> tuple[str, ...]:
        """The product's columns the rule reads."""
        return self.columns or ((self.column,) if self.column else ())


class VolumeGuard(Frozen):
    """The volume guard: each run's row count against the previous version's (the `volume` check).

    A run whose rows fall by `max_drop` or more, or grow by `max_growth` or more, fails the
    check: with the defaults, a run with half the rows or fewer, or four times as many or more.
    `severity` left out: `error` (blocking) for a drop of a published product, else `warn`.
    `volume: off` turns the guard off, for a product whose size legitimately swings.
    """

    enabled: bool = True
    max_drop: float = Field(
        default=0.5, description="The share of rows a run may lose: 0.5 fails at half or fewer."
    )
    max_growth: float = Field(
        default=3.0, description="The share a run may grow: 3.0 (300%) fails at 4x or more."
    )
    severity: Severity | None = Field(
        default=None,
        description="`warn` or `error` for both directions; left out: `error` for a drop of a "
        "published product, else `warn`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        # `volume: off` (a string in YAML 1.2) or `False` (Python, or YAML 1.1 habits) disable.
        if value is False or value == "off":
            return {"enabled": False}
        if value is True or value == "on":
            return {}
        if not isinstance(value, (Mapping, VolumeGuard)):
            raise ValueError(
                f"{value!r} is not a volume guard; write `volume: off`, or a mapping such as "
                "`volume: {max_drop: 0.5, max_growth: 3.0, severity: warn}`"
            )
        return value

    @field_validator("max_drop")
    @classmethod
    def _drop(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError(
                f"max_drop {v} must be a share between 0 and 1 (0.5: a run with half the rows "
                "or fewer fails); to turn the guard off write `volume: off`"
            )
        return v

    @field_validator("max_growth")
    @classmethod
    def _growth(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(
                f"max_growth {v} must be a share above 0 (3.0: a run with 300% more rows, 4x, "
                "fails); to turn the guard off write `volume: off`"
            )
        return v

    def severity_for(self, dropped: bool, visibility: Visibility) -> Severity:
        """The check's severity for a drop (or a growth) of a product of this visibility."""
        if self.severity is not None:
            return self.severity
        # A drop of published data hurts other domains; growth is rarer to be harmful.
        return "error" if dropped and visibility == "published" else "warn"

    def may_block(self, visibility: Visibility) -> bool:
        """Whether a failure of the check can be blocking (`error`) for this product."""
        return self.enabled and self.severity_for(True, visibility) == "error"
