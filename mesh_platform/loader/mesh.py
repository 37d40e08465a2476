"""The whole mesh: every domain's products, validated and planned together (CLI commands).

Each domain is planned as its code location plans it (`DomainPlanner`: other domains through
their published contracts), so `mesh validate` accepts exactly what the locations load. On
top, the mesh checks what no single location can see: cycles across domains.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

from mesh_platform.column_types import Schema
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.loader.domain import ContractReader, DomainPlanner, dependency_order
from mesh_platform.spec.loading import DomainSource, ProductSource
from mesh_platform.spec.workspace import Key, discover_domains, load_domain, repo_root


@dataclass(frozen=True)
class MeshSpecs:
    """Every domain's and product's spec under a root, not planned (what operations need)."""

    root: Path
    domains: dict[str, DomainSource]
    products: dict[Key, ProductSource]
    order: tuple[Key, ...]

    @staticmethod
    def load(root: Path | None = None) -> MeshSpecs:
        """The specs of every domain that loads (a broken domain is left out), cached.

        The platform's sensors read this: a domain with spec errors must not stop failure
        routing or quality history for the others.
        """
        return _specs_cached((root or repo_root()).resolve())

    def product(self, name: str) -> ProductSource:
        """A product by `domain.product`."""
        domain, _, product = name.partition(".")
        source = self.products.get((domain, product))
        if source is None:
            raise KeyError(
                f"no product {name!r}; products look like 'sales.pricing_summary' (see `mesh list`)"
            )
        return source

    def of_domain(self, domain: str) -> list[ProductSource]:
        """A domain's products, in dependency order."""
        return [self.products[k] for k in self.order if k[0] == domain]

    def upstream(self, key: Key) -> set[Key]:
        """Direct inputs of a product."""
        return set(self.products[key].spec.input_refs().values())


@dataclass(frozen=True)
class Mesh(MeshSpecs):
    """All domains and products under a root, with each product's validated plan."""

    plans: dict[Key, ProductPlan]

    @staticmethod
    def load(root: Path | None = None) -> Mesh:
        """Load and validate the mesh under `root` (default: this checkout), cached."""
        return _load_cached((root or repo_root()).resolve())

    def schema(self, key: Key) -> Schema:
        """A product's output schema."""
        return self.plans[key].schema

    def domain_order(self) -> list[str]:
        """Domains ordered so that each comes after the domains it reads from."""
        graph: dict[str, set[str]] = {d: set() for d in self.domains}
        for key in self.order:
            graph[key[0]].update(d for d, _ in self.upstream(key) if d != key[0])
        return list(TopologicalSorter(graph).static_order())


@functools.lru_cache(maxsize=8)
def _load_cached(root: Path) -> Mesh:
    return load_mesh(root)


@functools.lru_cache(maxsize=8)
def _specs_cached(root: Path) -> MeshSpecs:
    domains: dict[str, DomainSource] = {}
    for folder in discover_domains(root):
        try:
            domains[folder.name] = load_domain(root, folder.name)
        except (SpecError, SpecErrors):
            continue
    products = {p.spec.key: p for d in domains.values() for p in d.products}
    return MeshSpecs(root, domains, products, tuple(sorted(products)))


def load_mesh(root: Path) -> Mesh:
    """Read every domain under `root`, plan each as its location does, check the whole."""
    errors: list[SpecError] = []
    domains: dict[str, DomainSource] = {}
    for folder in discover_domains(root):
        try:
            domains[folder.name] = load_domain(root, folder.name)
        except SpecError as exc:
            errors.append(exc)
        except SpecErrors as exc:
            errors.extend(exc.errors)
    products = {p.spec.key: p for d in domains.values() for p in d.products}
    contracts = ContractReader(root, products)
    plans: dict[Key, ProductPlan] = {}
    for domain in domains.values():
        try:
            plans.update(DomainPlanner(domain, contracts).plan_all())
        except SpecErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise SpecErrors(errors)
    return Mesh(root, domains, products, _order(products), plans)


def _order(products: dict[Key, ProductSource]) -> tuple[Key, ...]:
    graph = {key: set(s.spec.input_refs().values()) for key, s in products.items()}
    return tuple(dependency_order(graph, products, across=" across domains"))
