"""The access policy: what a consumer domain sees of another domain's product, by tags.

The policy is a standard of the platform team (`standards/access_policy.yaml`, versioned,
registered through the registry): for each column tag, the clearances that see the column in
clear, and what the others see (masked by a standard masking step, or nothing). A consumer's
clearances are its `domain.yaml`'s `clearances:`. A product's own domain always sees its own
data in clear. The tags are the contract's, which carry the planner's propagation (a column
derived from PII is PII unless a protecting step changed its tag).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlglot
from pydantic import Field, ValidationError
from sqlglot import exp

from mesh_platform.column_types import family
from mesh_platform.compile.contracts import PublishedContract
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.registry import StandardStepDefinition, check_params, registry
from mesh_platform.registry.functions import MASK_KEEP_AT_MOST
from mesh_platform.security.pii import CONTAINS_PII, PII, column_tags
from mesh_platform.spec.fields import Frozen
from mesh_platform.spec.model import DomainSpec

Action = Literal["clear", "masked", "hidden"]
_STRICTNESS: dict[Action, int] = {"clear": 0, "masked": 1, "hidden": 2}


class MaskStep(Frozen):
    """A standard masking step of the registry, and its parameters (without `columns`)."""

    use: str
    params: dict[str, Any] = Field(default_factory=dict, alias="with")


class TagRule(Frozen):
    """What consumers see of a column (or product) carrying `tag`."""

    tag: str = Field(min_length=1)
    clear_for: tuple[str, ...] = Field(
        default=(), description="clearances that see the value in clear (any one suffices)"
    )
    others: Action = "masked"
    mask: MaskStep = MaskStep(use="redact", params={"keep": 1})
    mask_other: MaskStep = MaskStep(use="nullify")


class LandingRule(Frozen):
    """Who may declare landing sources (raw operational exports): `access/landing.py`."""

    domains: tuple[str, ...] = ("platform",)


class DecryptGrant(Frozen):
    """The domains whose SQL may call `decrypt_det` (read by the planner,
    `compile/decryption.py`); a product's own tags never grant it."""

    granted_to: tuple[str, ...] = Field(
        default=(), description="domains granted decryption (their results are `pii`)"
    )


class AccessPolicy(Frozen):
    """A version of the platform's access policy."""

    version: int = Field(ge=1)
    columns: tuple[TagRule, ...] = ()
    products: tuple[TagRule, ...] = ()
    central_approval: tuple[str, ...] = ()
    decrypt: DecryptGrant = DecryptGrant()
    landing: LandingRule = LandingRule()

    def column_rules(self, tags: Iterable[str]) -> list[TagRule]:
        """The column rules that apply to a column with `tags`."""
        have = set(tags)
        return [rule for rule in self.columns if rule.tag in have]

    def product_rules(self, tags: Iterable[str]) -> list[TagRule]:
        """The product rules that apply to a product with `tags` (`contains_pii`, `k=v`)."""
        have = set(tags)
        return [rule for rule in self.products if rule.tag in have]


@dataclass(frozen=True)
class ColumnAccess:
    """What one consumer sees of one column: clear, masked (with `step`), or hidden.

    `because` names the tag and the clearance that decided it, for people.
    """

    column: str
    action: Action
    step: MaskStep | None = None
    because: str = ""


@dataclass(frozen=True)
class ProductAccess:
    """What one consumer domain sees of one product: readable at all, and each column."""

    consumer: str
    readable: bool
    columns: tuple[ColumnAccess, ...]
    because: str = ""

    def masked(self) -> dict[str, ColumnAccess]:
        """The columns this consumer does not see in clear, by name."""
        return {c.column: c for c in self.columns if c.action != "clear"}


def _decide(rules: list[TagRule], clearances: frozenset[str]) -> tuple[Action, TagRule | None]:
    """The strictest outcome of `rules` for a consumer with `clearances`."""
    action: Action = "clear"
    deciding: TagRule | None = None
    for rule in rules:
        found: Action = "clear" if clearances & set(rule.clear_for) else rule.others
        if _STRICTNESS[found] > _STRICTNESS[action]:
            action, deciding = found, rule
    return action, deciding


def product_tags(
    column_tags: Mapping[str, tuple[str, ...]], spec_tags: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """A product's tags for the policy: `contains_pii` (from its columns) and `key=value`."""
    tags = [f"{k}={v}" for k, v in (spec_tags or {}).items()]
    if any(PII in t for t in column_tags.values()):
        tags.append(CONTAINS_PII)
    return tuple(tags)


def access_for(
    producer: str,
    columns: Mapping[str, tuple[str, ...]],
    consumer: str,
    clearances: Iterable[str],
    spec_tags: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
    policy: AccessPolicy | None = None,
) -> ProductAccess:
    """What `consumer` (with `clearances`) sees of `producer`'s product with these columns.

    `columns` maps each column to its tags, `types` to its type (the masking step of a
    masked column depends on it: text or not).
    """
    policy = policy or access_policy()
    if consumer == producer:
        own = tuple(ColumnAccess(c, "clear", because="own domain") for c in columns)
        return ProductAccess(consumer, True, own, "own domain")
    cleared = frozenset(clearances)
    whole, whole_rule = _decide(policy.product_rules(product_tags(columns, spec_tags)), cleared)
    if whole == "hidden" and whole_rule is not None:
        return ProductAccess(consumer, False, (), _reason(whole_rule))
    seen: list[ColumnAccess] = []
    for name, tags in columns.items():
        action, rule = _decide(policy.column_rules(tags), cleared)
        if whole_rule is not None and _STRICTNESS[whole] > _STRICTNESS[action]:
            action, rule = whole, whole_rule  # a product rule covers every column
        if rule is None:
            seen.append(ColumnAccess(name, "clear"))
            continue
        step = mask_step(rule, (types or {}).get(name, "unknown")) if action == "masked" else None
        seen.append(ColumnAccess(name, action, step, _reason(rule)))
    return ProductAccess(consumer, True, tuple(seen))


UNCLEARED = "a reader without clearance"


def uncleared_view(
    producer: str,
    columns: Mapping[str, tuple[str, ...]],
    spec_tags: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
    policy: AccessPolicy | None = None,
) -> ProductAccess:
    """What a reader of another domain without any clearance sees of `producer`'s product:
    the policy's decision for each column, and a `pii` column that no rule covers hidden.

    For what the platform shows anyone who can open it (a materialization's sample rows).
    """
    policy = policy or access_policy()
    seen = access_for(producer, columns, UNCLEARED, (), spec_tags, types, policy)
    if not seen.readable:
        return seen
    decided = tuple(
        ColumnAccess(c.column, "hidden", because="tag 'pii': no rule of the access policy")
        if c.action == "clear" and PII in columns[c.column] and not policy.column_rules([PII])
        else c
        for c in seen.columns
    )
    return ProductAccess(UNCLEARED, True, decided)


def _reason(rule: TagRule) -> str:
    needs = " or ".join(f"clearance {c!r}" for c in rule.clear_for) or "no clearance"
    return f"tag {rule.tag!r}: clear for {needs}"


def mask_step(rule: TagRule, column_type: str) -> MaskStep:
    """The masking step of `rule` for a column of `column_type` (text or not)."""
    text = column_type == "unknown" or family(column_type) == "string"
    return rule.mask if text else rule.mask_other


def who_sees(
    contract: PublishedContract,
    domains: Iterable[DomainSpec],
    spec_tags: Mapping[str, str] | None = None,
) -> dict[str, ProductAccess]:
    """Who sees what of a product: for each domain (a `DomainSpec`), its `ProductAccess`.

    `contract` is the product's `PublishedContract` (its domain and column tags); the product
    page shows this table.
    """
    columns: dict[str, tuple[str, ...]] = dict(contract.tags)
    types = {c.name: c.type for c in contract.columns}
    return {
        d.name: access_for(contract.domain, columns, d.name, d.clearances, spec_tags, types)
        for d in domains
    }


def policy_files() -> list[Path]:
    """The access policy files the standards packages registered."""
    return list(registry().access_policy_files)


@functools.cache
def access_policy() -> AccessPolicy:
    """The access policy in effect: the highest `version:` among the registered files.

    Without any registered file, every consumer sees every column in clear.
    """
    found: dict[int, tuple[Path, AccessPolicy]] = {}
    for path in policy_files():
        policy = load_policy(path)
        if policy.version in found:
            raise SpecError(
                f"access policy version {policy.version} is registered twice "
                f"({found[policy.version][0]} and {path})",
                file=path,
                fix="give the new policy file the next `version:`",
            )
        found[policy.version] = (path, policy)
    if not found:
        return AccessPolicy(version=1)
    return found[max(found)][1]


def load_policy(path: Path) -> AccessPolicy:
    """One policy file; `SpecErrors` naming the file, line and field when it is wrong."""
    from mesh_platform.spec.validation import validation_errors
    from mesh_platform.spec.yaml_source import read_yaml, to_plain

    document = read_yaml(path)
    try:
        policy = AccessPolicy.model_validate(to_plain(document.data))
    except ValidationError as exc:
        raise SpecErrors(
            [
                SpecError(e.problem, file=e.file, line=e.line, fix="see docs/access.md")
                for e in validation_errors(exc, path, document)
            ]
        ) from None
    _check_steps(policy, path, document.line_of)
    return policy


def _check_steps(policy: AccessPolicy, path: Path, line_of: Any) -> None:
    steps = registry().steps
    for section in ("columns", "products"):
        for index, rule in enumerate(getattr(policy, section)):
            for field in ("mask", "mask_other"):
                step = getattr(rule, field)
                definition = steps.get(step.use)
                if definition is None or definition.sql is None:
                    raise SpecError(
                        f"access policy: {section}[{index}].{field} uses {step.use!r}, which is "
                        "not a standard step that runs as SQL",
                        file=path,
                        line=line_of([section, index, field]),
                        fix="use a security step of `mesh standards` (mask, nullify, "
                        "generalize, pseudonymize, encrypt)",
                    )
                kept = _keeps_pii(definition, step, "string" if field == "mask" else "date")
                if kept:
                    raise SpecError(
                        f"access policy: {section}[{index}].{field} ({step.use} with "
                        f"{step.params}) keeps the value: its result is still `pii` ({kept})",
                        file=path,
                        line=line_of([section, index, field]),
                        fix="mask with a registered mask keeping at most "
                        f"{MASK_KEEP_AT_MOST} characters (e.g. `redact` with `keep: 1`)",
                    )


def _keeps_pii(definition: StandardStepDefinition, step: MaskStep, column_type: str) -> str:
    """Why masking a `pii` column of `column_type` with `step` leaves it `pii` ('' if not):
    the planner's own tag propagation over the step's SQL decides."""
    try:
        params = check_params(definition, {**step.params, "columns": ["v"]})
        (select,) = definition.sql({"v": column_type}, params) if definition.sql else ("v",)
    except (ValueError, TypeError):
        return ""  # parameters that do not fit: the step's own check says so where it is used
    formula = sqlglot.parse_one(select, read="spark")
    formula = formula.this if isinstance(formula, exp.Alias) else formula
    sources = (("in", "v"),) if formula.find(exp.Column) else ()
    tags = column_tags("v", (), (sources, formula.sql("spark")), {"in": {"v": (PII,)}})
    return f"{formula.sql('spark')} is tagged {', '.join(tags)}" if PII in tags else ""
