"""The data product as a Dagster Component: the low-code path from YAML to definitions."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import dagster as dg

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.dagster.factory import build_asset, build_schedules
from mesh_platform.dagster.template import load_hooks
from mesh_platform.loader import DomainPlanner, planner_for
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ProductSpec
from mesh_platform.spec.workspace import find_domain_folder, repo_root


def _resolve_product(_context: dg.ResolutionContext, attributes: Any) -> ProductSpec:
    # Validated like a YAML spec: a bad field is a pydantic error naming it.
    return attributes if isinstance(attributes, ProductSpec) else ProductSpec.model_validate(
        attributes
    )


@dataclass
class DataProduct(dg.Component, dg.Resolvable):
    """A data product: its spec (inputs, steps, contract) becomes one software-defined asset.

    In a component's `defs.yaml`, `attributes: {product: {...}}` holds the fields of the
    product spec (docs/product-spec.md). The same spec written in Python
    (`DataProduct(ProductSpec(...))`) builds the same definitions, and the domain loader
    builds every product of a domain folder through this class.
    """

    # Typed `Any` for Dagster's resolution machinery (which cannot derive a schema from the
    # spec's tuple fields); the resolver makes it a validated ProductSpec, see `spec`.
    product: Annotated[
        Any,
        dg.Resolver(
            _resolve_product,
            model_field_type=ProductSpec,
            description="The product spec: name, description, inputs, steps, columns, ... "
            "(docs/product-spec.md).",
        ),
    ]

    @property
    def spec(self) -> ProductSpec:
        """The product's validated spec."""
        assert isinstance(self.product, ProductSpec)
        return self.product

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The product's asset and schedule, planned against its inputs in its domain."""
        planner = _planner(context.path, self.spec)
        return self.definitions(planner, planner.plan(self._source(planner)))

    def definitions(self, planner: DomainPlanner, plan: ProductPlan) -> dg.Definitions:
        """The product's asset and schedule, with its domain's template hooks; its run applies
        the approvals file of the planner's mesh root."""
        hooks = load_hooks(planner.domain.spec.template_hooks)
        return dg.Definitions(
            assets=[build_asset(self.spec, plan, hooks, mesh_root=planner.contracts.root)],
            schedules=build_schedules(self.spec),
        )

    def _source(self, planner: DomainPlanner) -> ProductSource:
        known = planner.products.get(self.spec.key)
        if known is not None and known.spec == self.spec:
            return known
        return ProductSource(self.spec, Path(f"<{self.spec.qualified_name}>"))


def _planner(path: Path, spec: ProductSpec) -> DomainPlanner:
    """The planner of the product's domain: the domain folder holding the component, else
    the domain of that name in this checkout."""
    folder = find_domain_folder(path.resolve())
    if folder is not None and folder.name == spec.domain:
        return planner_for(folder.parent.parent, folder.name)
    return planner_for(repo_root(), spec.domain)
