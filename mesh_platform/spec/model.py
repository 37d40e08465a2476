"""The data product spec: one validated, immutable model for YAML and Python authors."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from mesh_platform import column_types

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


class Frozen(BaseModel):
    """Base of spec objects: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def check_name(value: str) -> str:
    """`value`, if it is a lowercase snake_case name; else a ValueError saying what to write."""
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} must be lowercase snake_case (letters, digits, _), starting with a "
            "letter, at most 63 characters"
        )
    return value


Name = Annotated[str, AfterValidator(check_name)]
"""A name of a domain, product, column, step, rule or input: lowercase snake_case."""

# Dagster's own rule for asset owners: an email address, or `team:` and a name.
_EMAIL_RE = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")


def check_owner(value: str) -> str:
    """`value`, if it is an owner Dagster accepts; else a ValueError saying what to write."""
    team = value.startswith("team:") and len(value) > len("team:")
    if not (team or _EMAIL_RE.fullmatch(value)):
        raise ValueError(
            f"owner {value!r} must be an email address (data@example.com) or 'team:<name>'"
        )
    return value


Owner = Annotated[str, AfterValidator(check_owner)]

_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
PLATFORM_TAGS = ("domain", "visibility", "contains_pii")  # stamped on every asset
MAX_SPEC_KINDS = 5

Visibility = Literal["internal", "published"]
Automation = Literal["eager", "on_cron", "on_missing"]
Severity = Literal["error", "warn"]
RuleKind = Literal[
    "not_null", "unique", "accepted_values", "between", "regex", "row_count", "references", "sql"
]


class ColumnSpec(Frozen):
    """A column of the product's contract."""

    name: Name
    type: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()

    @field_validator("type")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        return v if v is None else column_types.normalize(v)


class SqlStep(Frozen):
    """A SQL statement in the Spark SQL dialect over the inputs and earlier steps."""

    sql: str
    name: Name | None = None
    description: str = ""


class StandardStep(Frozen):
    """A standard step published by the platform team, applied to the previous result."""

    use: str
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    name: Name | None = None
    description: str = ""


class PythonStep(Frozen):
    """A Python function `module:function` taking and returning a polars DataFrame."""

    python: str
    name: Name | None = None
    description: str = ""

    @field_validator("python")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", v):
            raise ValueError(f"python step {v!r} must look like 'package.module:function'")
        return v


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ("sql", "use", "python"):
            if kind in value:
                return kind
        return None
    kinds: dict[type, str] = {SqlStep: "sql", StandardStep: "use", PythonStep: "python"}
    return kinds.get(type(value))


Step = Annotated[
    Annotated[SqlStep, Tag("sql")]
    | Annotated[StandardStep, Tag("use")]
    | Annotated[PythonStep, Tag("python")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs one of `sql:`, `use:` (a standard) or `python:`",
    ),
]


class Partitioning(Frozen):
    """Time partitioning of a product: one partition per month (or day) of `column`."""

    column: Name
    granularity: Literal["monthly", "daily"] = "monthly"
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _range(self) -> Partitioning:
        if self.end is not None and self.end <= self.start:
            raise ValueError(
                f"partitioning `end` ({self.end}) must come after `start` ({self.start})"
            )
        return self


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
        if self.rule in ("between", "row_count") and self.min is None and self.max is None:
            raise ValueError(f"rule {self.rule!r} needs `min:` and/or `max:`")
        if self.rule == "regex":
            if not self.pattern:
                raise ValueError("rule 'regex' needs `pattern:`")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"rule 'regex': pattern {self.pattern!r} is invalid: {exc}"
                ) from None
        if self.rule == "references" and not self.product:
            raise ValueError("rule 'references' needs `product:` (an input holding the keys)")
        if self.rule == "sql" and not self.sql:
            raise ValueError("rule 'sql' needs `sql:` (a query returning the bad rows)")
        return self

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


class LandingSource(Frozen):
    """A product read from a landing file of an operational source (platform ingestion)."""

    landing: str


class ProductSpec(Frozen):
    """A data product: identity, inputs, steps, contract, quality and operations."""

    domain: Name
    name: Name
    version: str = "1.0.0"
    description: str
    owners: tuple[Owner, ...] = ()
    visibility: Visibility = "internal"
    source: LandingSource | None = None
    inputs: dict[Name, str] = Field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    quality: tuple[QualityRule, ...] = ()
    freshness: Freshness | None = None
    schedule: str | None = None
    automation: Automation | None = None
    partitioning: Partitioning | None = None
    engine: str | None = Field(
        default=None,
        description="The engine that runs the steps, by name (`mesh standards` lists them); "
        "the deployment's default when left out.",
    )
    tags: dict[str, str] = Field(default_factory=dict)
    kinds: tuple[str, ...] = ()

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not re.match(r"^\d+\.\d+\.\d+$", str(v)):
            raise ValueError(f"version {v!r} must be semantic: MAJOR.MINOR.PATCH, e.g. 1.0.0")
        return str(v)

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, v: dict[str, str]) -> dict[str, str]:
        for port, ref in v.items():
            if not re.match(r"^([a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*$", str(ref)):
                raise ValueError(
                    f"input {port!r} refers to {ref!r}; write 'product' (same domain) "
                    "or 'domain.product'"
                )
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if key in PLATFORM_TAGS:
                raise ValueError(f"tag {key!r} is set by the platform; use another key")
            if not _TAG_KEY.match(key) or not _TAG_VALUE.match(str(value)):
                raise ValueError(
                    f"tag {key}: {value!r}: keys and values are at most 63 letters, digits, "
                    "`_`, `.` or `-` (a key may have a `prefix/`), as Dagster requires"
                )
        return v

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) > MAX_SPEC_KINDS:
            raise ValueError(
                f"at most {MAX_SPEC_KINDS} kinds (the platform adds its own; Dagster shows 10)"
            )
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not is_valid_cron(v):
            raise ValueError(
                f"schedule {v!r} is not a valid cron expression of 5 fields, e.g. '0 6 * * *'"
            )
        return v

    @model_validator(mode="after")
    def _shape(self) -> ProductSpec:
        if self.source is None and not self.steps:
            raise ValueError("a product needs `steps` (or a landing `source` for ingestion)")
        if self.source is None and not self.inputs:
            raise ValueError("a product needs `inputs`: the products its steps read")
        if self.automation == "on_cron" and not self.schedule:
            raise ValueError("automation 'on_cron' needs a `schedule` cron expression")
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns declared twice: {', '.join(dupes)}")
        return self

    @property
    def key(self) -> tuple[str, str]:
        """The asset key path: `[domain, product]`."""
        return (self.domain, self.name)

    @property
    def qualified_name(self) -> str:
        """`domain.product`, the name other domains use to refer to this product."""
        return f"{self.domain}.{self.name}"

    def input_refs(self) -> dict[str, tuple[str, str]]:
        """Each input port resolved to the `(domain, product)` it reads."""
        out: dict[str, tuple[str, str]] = {}
        for port, ref in self.inputs.items():
            domain, _, product = ref.rpartition(".")
            out[port] = (domain or self.domain, product)
        return out


class DomainSpec(Frozen):
    """A business domain: its team, owners, on-call and defaults for its products."""

    name: Name
    team: str = Field(min_length=1, pattern=r"^\S+$", description="The owning team (no spaces).")
    description: str = ""
    owners: tuple[Owner, ...] = ()
    on_call: str | None = None
    channels: tuple[str, ...] = ()
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    time_to_recover_hours: float = 24
    template_hooks: tuple[str, ...] = Field(
        default=(),
        description="`package.module:function` hooks called on start, success and failure of "
        "every product of the domain, in addition to the standard template.",
    )

    @property
    def default_owner(self) -> str:
        """The team owner stamped on products that name none."""
        return f"team:{self.team}"


def is_valid_cron(expression: str) -> bool:
    """Whether `expression` is a cron schedule Dagster accepts: 5 fields, a date that exists."""
    from croniter import croniter

    if not croniter.is_valid(expression):
        return False
    fields, *_ = croniter.expand(expression)
    if len(fields) != 5:
        return False
    days, months = fields[2], fields[3]
    return not (months == [2] and len(days) == 1 and days[0] in (30, 31))
