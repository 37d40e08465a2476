"""The data product spec: one validated, immutable model for YAML and Python authors."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mesh_platform import column_types
from mesh_platform.errors import SpecError
from mesh_platform.spec.fields import (
    MAX_SPEC_KINDS,
    PLATFORM_TAGS,
    TAG_KEY,
    TAG_VALUE,
    Automation,
    Channel,
    Frozen,
    Name,
    Owner,
    Visibility,
    check_on_call,
)
from mesh_platform.spec.quality import Freshness, QualityRule, VolumeGuard
from mesh_platform.spec.writes import Incremental, WriteMode


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


class LandingSource(Frozen):
    """A product read from a landing file of an operational source (platform ingestion)."""

    landing: str
    folder: bool = Field(
        default=False,
        description="Read the folder `<landing>/` of files (e.g. one a day) instead of the file "
        "`<landing>.parquet`: each run appends only the files not ingested yet "
        "(docs/incremental.md).",
    )
    allow_empty: bool = Field(
        default=False,
        description="Publish an empty export as the product's first version; by default the "
        "first ingestion of an empty export is refused (a later one is written, with a warning).",
    )


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
    volume: VolumeGuard = Field(
        default=VolumeGuard(),
        description="The volume guard: `off`, or `{max_drop, max_growth, severity}`.",
    )
    schedule: str | None = None
    automation: Automation | None = None
    partitioning: Partitioning | None = None
    write: WriteMode = Field(
        default="overwrite",
        description="How a run writes the table: `overwrite` (replace it), `append` (insert "
        "only new rows), `merge` (upsert by `keys`), `scd2` (keep each key's history).",
    )
    keys: tuple[Name, ...] = Field(
        default=(), description="The columns that identify a row, for `merge` and `scd2`."
    )
    delete_when: str | None = Field(
        default=None,
        description="`merge` only: a SQL condition over the result's columns; the matching "
        "rows are deleted from the table (source-side deletes), not written.",
    )
    incremental: Incremental | None = Field(
        default=None,
        description="Read only input rows at or after the table's high-water mark of `column` "
        "minus `lookback`, and write that window (docs/incremental.md).",
    )
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
            if not TAG_KEY.match(key) or not TAG_VALUE.match(str(value)):
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


class AnswersFor(Frozen):
    """Who answers for a domain's operations, access decisions and budget: the domain itself,
    or the platform team acting as its proxy (the seed's proxy model)."""

    operations: Literal["domain", "platform"] = Field(
        default="domain", description="Who is told first of the domain's failures."
    )
    access: Literal["domain", "platform"] = Field(
        default="domain", description="Who approves subscriptions to the domain's products."
    )
    budget: Literal["domain", "platform"] = Field(
        default="domain", description="Who is told of the domain's budget breaches."
    )


class DomainSpec(Frozen):
    """A business domain: its team, owners, on-call and defaults for its products."""

    name: Name
    team: str = Field(min_length=1, pattern=r"^\S+$", description="The owning team (no spaces).")
    description: str = ""
    owners: tuple[Owner, ...] = ()
    on_call: str | None = Field(
        default=None, description="The email address the domain's failures are sent to."
    )
    channels: tuple[Channel, ...] = Field(
        default=(),
        description="More alert destinations: webhook:<name>, slack:<name>, email:<address>.",
    )
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    time_to_recover_hours: float = 24
    template_hooks: tuple[str, ...] = Field(
        default=(),
        description="`package.module:function` hooks called on start, success and failure of "
        "every product of the domain, in addition to the standard template.",
    )
    clearances: tuple[Name, ...] = Field(
        default=(),
        description="Attributes of the domain as a consumer, read by the access policy (e.g. "
        "`pii`: it may see PII columns of other domains' products in clear). Loaded from the "
        "platform team's grants (governance/clearances.yaml); a `clearances:` line in "
        "domain.yaml grants nothing (`declared_clearances`).",
    )
    # What the domain's own file said under `clearances:` (it grants nothing; told by
    # `mesh validate`): set by the loader, never read from the file as a field.
    _declared_clearances: tuple[str, ...] = PrivateAttr(default=())
    answers_for: AnswersFor = Field(
        default_factory=AnswersFor,
        description="Who answers for the domain's operations, access decisions and budget.",
    )

    @field_validator("on_call")
    @classmethod
    def _on_call(cls, v: str | None, info: ValidationInfo) -> str | None:
        return v if v is None else check_on_call(v, info.data.get("name"))

    @property
    def declared_clearances(self) -> tuple[str, ...]:
        """The `clearances:` of the domain's own file, which grant nothing."""
        return self._declared_clearances

    def with_granted_clearances(
        self, granted: tuple[str, ...], declared: tuple[str, ...]
    ) -> DomainSpec:
        """This spec with the platform's `granted` clearances; `declared`: its own file's."""
        spec = self.model_copy(update={"clearances": granted})
        spec._declared_clearances = declared
        return spec

    @property
    def default_owner(self) -> str:
        """The team owner stamped on products that name none."""
        return f"team:{self.team}"

    @property
    def notified(self) -> tuple[str, ...]:
        """Where the notifier sends the domain's alerts: its channels, its on-call by email."""
        on_call = (f"email:{self.on_call}",) if self.on_call else ()
        return tuple(dict.fromkeys((*self.channels, *on_call)))


def domain_notices(spec: DomainSpec, path: Path, line: int | None = 1) -> list[SpecError]:
    """What is accepted in a domain file but should be told (`path`, at `line`): a domain
    that names nobody to notify, whose failures alert no one (owners are Dagster's owners, not
    recipients). Reported, not refused: the domain's products run as they should. Also a
    `clearances:` line in the domain's own file, which grants nothing."""
    from mesh_platform.spec.governance import self_declared_notice

    declared = (
        [self_declared_notice(path, spec.declared_clearances, spec.name)]
        if spec.declared_clearances
        else []
    )
    if spec.notified:
        return declared
    return [
        *declared,
        SpecError(
            f"domain {spec.name!r} names nobody to notify: alerts of its failures reach no one "
            "(owners are not notified; the notifier sends to `on_call` and `channels`)",
            file=path,
            line=line,
            fix=f"add `on_call: {spec.name}-oncall@example.com` (the address its failures are "
            "emailed to) or `channels: [webhook:<name>]` to the domain file",
        ),
    ]


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
