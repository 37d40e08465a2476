"""Published contracts: what another domain may rely on when it reads a product.

A domain reads another domain's product through its published contract (columns, types,
descriptions and tags declared under `columns:`), never through its plan: a code location
plans only its own products. So a published product must declare its whole contract (every
column, with its type) and tag every sensitive column itself; the producer's load checks
both (`check_published`), so the contract a consumer sees is exactly what the producer
computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mesh_platform.column_types import UNKNOWN, Schema
from mesh_platform.security.pii import SENSITIVITY_TAGS

if TYPE_CHECKING:
    from mesh_platform.compile.plan import ProductPlan
    from mesh_platform.spec.loading import ProductSource  # a type only: it loads the sandbox


@dataclass(frozen=True)
class ContractColumn:
    """A column as published: name, type (or `unknown`), meaning and tags."""

    name: str
    type: str
    description: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PublishedContract:
    """A product as other domains see it."""

    domain: str
    name: str
    visibility: str
    version: str
    columns: tuple[ContractColumn, ...]

    @property
    def qualified_name(self) -> str:
        """`domain.product`."""
        return f"{self.domain}.{self.name}"

    @property
    def schema(self) -> Schema | None:
        """Column names and types; None when the contract leaves a type out (not checkable)."""
        if not self.columns or any(c.type == UNKNOWN for c in self.columns):
            return None
        return {c.name: c.type for c in self.columns}

    @property
    def tags(self) -> dict[str, tuple[str, ...]]:
        """Column name -> its tags (sensitivity tags flow on to the consumer's columns)."""
        return {c.name: c.tags for c in self.columns}


def contract_of(source: ProductSource) -> PublishedContract:
    """The contract a product's spec declares."""
    spec = source.spec
    return PublishedContract(
        domain=spec.domain,
        name=spec.name,
        visibility=spec.visibility,
        version=spec.version,
        columns=tuple(
            ContractColumn(c.name, c.type or UNKNOWN, c.description, c.tags) for c in spec.columns
        ),
    )


def check_published(source: ProductSource, plan: ProductPlan) -> None:
    """Raise a SpecError unless a published product's declared contract is its whole output.

    Every column must be declared with its type, and every sensitivity tag the plan derives
    (a `pii` column computed from a `pii` input, say) must be declared on the column.
    """
    spec = source.spec
    if spec.visibility != "published":
        return
    declared = {c.name: c for c in spec.columns}
    untyped = [c.name for c in plan.columns if c.name not in declared or not declared[c.name].type]
    if untyped:
        raise source.error(
            f"published product {spec.qualified_name} does not declare the type of column(s) "
            f"{', '.join(untyped)}; other domains read it through its declared contract",
            "columns",
            fix="list every output column under `columns:` with its `type:` "
            "(`mesh preview` shows the inferred types)",
        )
    for index, column in enumerate(spec.columns):
        planned = next(c for c in plan.columns if c.name == column.name)
        hidden = [t for t in planned.tags if t in SENSITIVITY_TAGS and t not in column.tags]
        if hidden:
            raise source.error(
                f"published column {column.name!r} is {', '.join(hidden)} (computed from "
                f"{', '.join(f'{p}.{c}' for p, c in planned.sources) or 'its inputs'}) but its "
                "contract does not say so",
                "columns",
                index,
                fix=f"add `tags: [{', '.join([*column.tags, *hidden])}]` to the column, or "
                "protect it with a security step (`mesh standards`)",
            )
