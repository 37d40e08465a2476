"""The budget standard: the platform team's cost limits, versioned, published through the registry.

A YAML file (`standards/budgets/<version>.yaml`, registered with `Registry.add_budget_file`):

    version: 1
    limits:                      # every domain
      per_run: {dollars: 5}      # any one production run of any product
      per_product_month: {units: 300}
      per_domain_month: {dollars: 1000}
    domains:
      sales:
        limits: {per_domain_month: {dollars: 3000}}   # overrides, limit by limit
        notify: platform         # the platform team answers for this domain's budget

The highest `version:` registered applies. Errors name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mesh_platform.errors import MeshError, SpecError, SpecErrors

LimitName = Literal["per_run", "per_product_month", "per_domain_month"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)
Measure = Literal["dollars", "units"]
LIMIT_LABELS = {
    "per_run": "cost of one run",
    "per_product_month": "monthly cost of a product",
    "per_domain_month": "monthly cost of the domain",
}


class BudgetError(MeshError):
    """A budget waiver or status request that cannot be honoured (the message says why)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    """One limit: in dollars or in compute units (exactly one)."""

    dollars: float | None = Field(default=None, gt=0)
    units: float | None = Field(default=None, gt=0)
    # `block` (stopping runs over the limit) is reserved: a breach only notifies for now.
    enforce: Literal["notify"] = "notify"

    @model_validator(mode="after")
    def _one_measure(self) -> Limit:
        if (self.dollars is None) == (self.units is None):
            raise ValueError("give exactly one of `dollars:` or `units:`")
        return self

    @property
    def measure(self) -> Measure:
        """What the limit is counted in."""
        return "dollars" if self.dollars is not None else "units"

    @property
    def amount(self) -> float:
        """The limit's value, in its measure."""
        return self.dollars if self.dollars is not None else float(self.units or 0.0)

    def describe(self, value: float | None = None) -> str:
        """`$12.50` or `12.5 units` (of `value`, else of the limit)."""
        value = self.amount if value is None else value
        return f"${value:,.2f}" if self.measure == "dollars" else f"{value:,.4f} units"


class Limits(_Strict):
    """The limits of one scope; a limit left out does not apply (or is not overridden)."""

    per_run: Limit | None = None
    per_product_month: Limit | None = None
    per_domain_month: Limit | None = None


class DomainBudget(_Strict):
    """A domain's overrides, and who answers for its budget."""

    limits: Limits = Limits()
    notify: Literal["domain", "platform"] = "domain"


class BudgetStandard(_Strict):
    """A version of the budget standard."""

    version: int = Field(ge=1)
    limits: Limits = Limits()
    domains: dict[str, DomainBudget] = {}

    def limits_for(self, domain: str) -> dict[LimitName, Limit]:
        """The limits that apply to `domain`: its overrides, else the standard's."""
        override = self.domains.get(domain, DomainBudget()).limits
        found: dict[LimitName, Limit] = {}
        for name in LIMIT_NAMES:
            limit = getattr(override, name) or getattr(self.limits, name)
            if limit is not None:
                found[name] = limit
        return found

    def platform_answers_for(self, domain: str) -> bool:
        """Whether the platform team, not the domain, is notified of the domain's breaches."""
        return self.domains.get(domain, DomainBudget()).notify == "platform"


def load_standard(path: Path) -> BudgetStandard:
    """One budget standard file; `SpecErrors` naming the file, line and field when it is wrong."""
    from mesh_platform.spec.validation import validation_errors
    from mesh_platform.spec.yaml_source import read_yaml, to_plain

    try:
        document = read_yaml(path)
    except SpecError as error:
        raise SpecErrors([error]) from None
    try:
        return BudgetStandard.model_validate(to_plain(document.data))
    except ValidationError as exc:
        errors = [
            # The shared fixes point at the product spec's reference; this file has its own.
            SpecError(e.problem, file=e.file, line=e.line, fix=_budget_fix(e.fix))
            for e in validation_errors(exc, path, document)
        ]
        raise SpecErrors(errors) from None


def _budget_fix(fix: str | None) -> str | None:
    if fix is None or "docs/product-spec.md" not in fix:
        return fix
    return fix.replace("docs/product-spec.md", "docs/cost.md (Budgets)")


def budget_standard(files: list[Path] | None = None) -> BudgetStandard | None:
    """The budget standard in effect: the highest version among `files` (default: those the
    standards packages registered); None when none is published (no limits apply)."""
    if files is None:
        from mesh_platform.registry import registry

        files = registry().budget_files
    loaded = [(load_standard(path), path) for path in files]
    if not loaded:
        return None
    versions: dict[int, Path] = {}
    for standard, path in loaded:
        if standard.version in versions:
            raise SpecErrors(
                [
                    SpecError(
                        f"field `version`: {standard.version} is also the version of "
                        f"{versions[standard.version]}",
                        file=path,
                        fix="give each published budget standard its own version number",
                    )
                ]
            )
        versions[standard.version] = path
    return max(loaded, key=lambda pair: pair[0].version)[0]
