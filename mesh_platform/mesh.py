"""The mesh: every domain's products, validated together (inputs, cycles, SQL, contracts)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.plan import ProductPlan, plan_product
from mesh_platform.spec.loading import DomainSource, ProductSource, load_domain_source
from mesh_platform.sql import Schema

Key = tuple[str, str]
DOMAINS_DIR = "domains"
# The spec names the production engine already; until it is wired, choosing it is an error
# rather than a silent run on the local engine.
AVAILABLE_ENGINES = ("local",)


def repo_root() -> Path:
    """The folder that holds `domains/` (this checkout)."""
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mesh:
    """All domains and products under a root, with each product's validated plan."""

    root: Path
    domains: dict[str, DomainSource]
    products: dict[Key, ProductSource]
    plans: dict[Key, ProductPlan]
    order: tuple[Key, ...]

    @staticmethod
    def load(root: Path | None = None) -> Mesh:
        """Load and validate the mesh under `root` (default: this checkout), cached."""
        return _load_cached((root or repo_root()).resolve())

    def product(self, name: str) -> ProductSource:
        """A product by `domain.product`."""
        domain, _, product = name.partition(".")
        source = self.products.get((domain, product))
        if source is None:
            raise KeyError(
                f"no product {name!r}; products look like 'sales.pricing_summary' (see `mesh list`)"
            )
        return source

    def schema(self, key: Key) -> Schema:
        """A product's output schema."""
        return self.plans[key].schema

    def of_domain(self, domain: str) -> list[ProductSource]:
        """A domain's products, in dependency order."""
        return [self.products[k] for k in self.order if k[0] == domain]

    def upstream(self, key: Key) -> set[Key]:
        """Direct inputs of a product."""
        return set(self.products[key].spec.input_refs().values())

    def downstream(self, key: Key) -> Iterator[Key]:
        """Every product that reads `key`, directly or not, in dependency order."""
        affected = {key}
        for other in self.order:
            if other != key and self.upstream(other) & affected:
                affected.add(other)
                yield other

    def domain_order(self) -> list[str]:
        """Domains ordered so that each comes after the domains it reads from."""
        graph: dict[str, set[str]] = {d: set() for d in self.domains}
        for key in self.order:
            graph[key[0]].update(d for d, _ in self.upstream(key) if d != key[0])
        return list(TopologicalSorter(graph).static_order())


@functools.lru_cache(maxsize=8)
def _load_cached(root: Path) -> Mesh:
    return load_mesh(root)


def discover_domains(root: Path) -> list[Path]:
    """Domain folders: `<root>/domains/<name>/` holding a domain.yaml."""
    base = root / DOMAINS_DIR
    return sorted(p.parent for p in base.glob("*/domain.yaml"))


def load_mesh(root: Path) -> Mesh:
    """Read every domain under `root` and validate the mesh as a whole."""
    errors: list[SpecError] = []
    domains: dict[str, DomainSource] = {}
    for folder in discover_domains(root):
        try:
            domains[folder.name] = load_domain_source(folder, f"{DOMAINS_DIR}.{folder.name}")
        except SpecError as exc:
            errors.append(exc)
        except SpecErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise SpecErrors(errors)
    products = {p.spec.key: p for d in domains.values() for p in d.products}
    graph: dict[Key, set[Key]] = {}
    for key, source in products.items():
        if source.spec.engine not in AVAILABLE_ENGINES:
            errors.append(
                source.error(
                    f"engine {source.spec.engine!r} is not available in this version of Mesh",
                    "engine",
                    fix="use `engine: local` (DuckDB + polars), or leave it out",
                )
            )
        deps = set()
        for port, ref in source.spec.input_refs().items():
            if ref not in products:
                errors.append(
                    source.error(
                        f"input {port!r} refers to unknown product {'.'.join(ref)!r}",
                        "inputs",
                        port,
                        fix=_suggest(ref, products),
                    )
                )
            elif ref == key:
                errors.append(
                    source.error(
                        f"input {port!r} reads the product itself",
                        "inputs",
                        port,
                        fix="a product cannot be its own input",
                    )
                )
            else:
                deps.add(ref)
        graph[key] = deps
    if errors:
        raise SpecErrors(errors)
    try:
        order = tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        first = products[cycle[0]]
        path = " -> ".join(".".join(k) for k in reversed(cycle))
        raise SpecErrors(
            [
                first.error(
                    f"inputs form a cycle: {path}",
                    "inputs",
                    fix="a product cannot depend on itself via others; drop one of these inputs",
                )
            ]
        ) from None
    plans: dict[Key, ProductPlan] = {}
    for key in order:
        source = products[key]
        schemas = {
            port: plans[ref].schema if ref in plans else None
            for port, ref in source.spec.input_refs().items()
        }
        try:
            tags = {
                port: {c.name: c.tags for c in plans[ref].columns}
                for port, ref in source.spec.input_refs().items()
                if ref in plans
            }
            plans[key] = plan_product(source, schemas, tags)
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecErrors(errors)
    return Mesh(root, domains, products, plans, order)


def _suggest(ref: Key, products: dict[Key, ProductSource]) -> str:
    import difflib

    names = [".".join(k) for k in products]
    close = difflib.get_close_matches(".".join(ref), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + "inputs are 'product' (same domain) or 'domain.product'; see `mesh list`"
