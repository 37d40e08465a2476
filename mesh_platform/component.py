"""The data product as a Dagster Component: the low-code path from YAML to definitions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from mesh_platform.factory import build_asset, build_schedules
from mesh_platform.mesh import Mesh
from mesh_platform.plan import ProductPlan, plan_product
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ProductSpec
from mesh_platform.template import load_hooks


class DataProduct(dg.Component):
    """A data product: its spec (inputs, steps, contract) becomes one software-defined asset.

    Its attributes are the fields of the product spec (docs/product-spec.md). The same spec
    written in Python (`ProductSpec(...)`) builds the same definitions.
    """

    def __init__(self, spec: ProductSpec, path: Path | None = None, mesh_root: Path | None = None):
        self.source = ProductSource(spec, path or Path(f"<{spec.qualified_name}>"))
        self.mesh_root = mesh_root

    @classmethod
    def get_schema(cls) -> type[BaseModel]:
        return ProductSpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> DataProduct:
        assert isinstance(attributes, ProductSpec)
        return cls(attributes)

    def plan(self) -> ProductPlan:
        """The product's plan, checked against its inputs' schemas in the mesh."""
        mesh = Mesh.load(self.mesh_root)
        known = mesh.products.get(self.source.spec.key)
        if known is not None and known.spec == self.source.spec:
            return mesh.plans[self.source.spec.key]
        schemas = {
            port: mesh.schema(ref) if ref in mesh.plans else None
            for port, ref in self.source.spec.input_refs().items()
        }
        return plan_product(self.source, schemas)

    def build_defs(self, context: dg.ComponentLoadContext | None = None) -> dg.Definitions:
        spec = self.source.spec
        domain = Mesh.load(self.mesh_root).domains.get(spec.domain)
        hooks = load_hooks(domain.spec.template_hooks) if domain else []
        return dg.Definitions(
            assets=[build_asset(spec, self.plan(), hooks)], schedules=build_schedules(spec)
        )
