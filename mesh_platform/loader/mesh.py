"""The whole mesh: every domain's products, validated and planned together (CLI commands).

Each domain is planned as its code location plans it (`DomainPlanner`: other domains through
their published contracts), so `mesh validate` accepts exactly what the locations load. On
top, the mesh checks what no single location can see: cycles across domains.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.column_types import Schema
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.errors import SpecError, SpecErrors, every_error
from mesh_platform.loader.domain import ContractReader, DomainPlanner, InputCycle, dependency_order
from mesh_platform.spec.loading import DOMAIN_FILE, DomainSource, ProductSource
from mesh_platform.spec.model import domain_notices
from mesh_platform.spec.workspace import (
    Key,
    discover_domains,
    domain_files,
    read_domain,
    repo_root,
)

if TYPE_CHECKING:
    from mesh_platform.access.masked_use import MaskedReport


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
    """All domains and products under a root, with each product's validated plan.

    Loaded in isolation: a product with spec errors, or reading one, is left out (with the
    reason in `excluded`) and the rest of the mesh loads. `errors` holds every spec error (what
    `mesh validate` reports); `broken_domains` the domains whose code location does not load,
    with the first error (their sound products can be previewed and tested, not materialized).
    """

    plans: dict[Key, ProductPlan]
    errors: tuple[SpecError, ...] = ()
    excluded: dict[Key, str] = field(default_factory=dict)
    broken_domains: dict[str, str] = field(default_factory=dict)
    # What is accepted but should be told (e.g. a domain that names nobody to notify).
    notices: tuple[SpecError, ...] = ()
    # Per product reading columns masked for its domain: which columns of each step carry
    # masked values (what `mesh preview` marks), `access/masked_use.py`.
    masked: dict[Key, MaskedReport] = field(default_factory=dict)
    # The planner of each domain that loads, its products planned: a code location imported
    # in the same command takes it (`planners_offered`) instead of planning them again.
    planners: dict[str, DomainPlanner] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def load(root: Path | None = None) -> Mesh:
        """Load and validate the mesh under `root` (default: this checkout), cached; raises
        SpecErrors when any spec has an error (see `load_healthy` for the rest of the mesh)."""
        mesh = Mesh.load_healthy(root)
        if mesh.errors:
            raise SpecErrors(list(mesh.errors))
        return mesh

    @staticmethod
    def load_healthy(root: Path | None = None) -> Mesh:
        """The mesh under `root` without what spec errors break, cached; never raises them."""
        return _load_cached((root or repo_root()).resolve())

    def product(self, name: str) -> ProductSource:
        """A product by `domain.product`; a left-out product is a KeyError with the reason."""
        domain, _, product = name.partition(".")
        reason = self.excluded.get((domain, product))
        if reason is not None:
            raise KeyError(f"{name} is left out: {reason}; see `mesh validate`")
        if (domain, product) not in self.products and domain in self.broken_domains:
            raise KeyError(
                f"no product {name!r}: domain {domain} does not load "
                f"({self.broken_domains[domain]}); see `mesh validate`"
            )
        return super().product(name)

    def schema(self, key: Key) -> Schema:
        """A product's output schema."""
        return self.plans[key].schema

    def domain_order(self) -> list[str]:
        """Every domain, each where its first product comes in the products' order (upstream
        first). Domains may read each other (platform reads sales, which reads platform): only
        products reading themselves through others are a cycle, and those are left out."""
        first = dict.fromkeys(key[0] for key in self.order)
        return [*first, *sorted(set(self.domains) - set(first))]

    def warnings(self) -> list[str]:
        """One line per domain that does not load and per product left out."""
        lines = [
            f"domain {d} does not load: {reason}"
            for d, reason in sorted(self.broken_domains.items())
        ]
        lines += [f"{'.'.join(k)} is left out: {why}" for k, why in sorted(self.excluded.items())]
        return lines


@functools.lru_cache(maxsize=8)
def _load_cached(root: Path) -> Mesh:
    return load_healthy(root)


@functools.lru_cache(maxsize=8)
def _specs_cached(root: Path) -> MeshSpecs:
    domains: dict[str, DomainSource] = {}
    for folder in discover_domains(root):
        try:
            domains[folder.name] = read_domain(root, folder.name)
        except SpecError:
            continue
    products = {p.spec.key: p for d in domains.values() for p in d.products}
    return MeshSpecs(root, domains, products, tuple(sorted(products)))


def load_mesh(root: Path) -> Mesh:
    """Read every domain under `root`, plan each as its location does, check the whole; raises
    SpecErrors with every error found."""
    mesh = load_healthy(root)
    if mesh.errors:
        raise SpecErrors(list(mesh.errors))
    return mesh


def load_healthy(root: Path) -> Mesh:
    """Every domain under `root`, planned as its location plans it; what spec errors break is
    left out, and the errors are kept on the mesh."""
    from mesh_platform.access.masked_use import collecting

    domains, errors, broken, excluded = _read_domains(root)
    products = {p.spec.key: p for d in domains.values() for p in d.products}
    contracts = ContractReader(root, products)
    plans: dict[Key, ProductPlan] = {}
    with collecting() as reports:  # what each consumer does with the columns masked for it
        planners = _plan_domains(domains, contracts, plans, errors, broken, excluded)
    order = _healthy_order(root, plans, products, errors, excluded)
    healthy = {key: products[key] for key in order}
    notices = tuple(
        n for d in domains.values() for n in domain_notices(d.spec, d.folder / DOMAIN_FILE)
    )
    notices += tuple(n for key in order if key in reports for n in reports[key][1])
    return Mesh(
        root,
        domains,
        healthy,
        order,
        {k: plans[k] for k in order},
        tuple(errors),
        excluded,
        broken,
        notices,
        {key: reports[key][0] for key in order if key in reports},
        {name: planner for name, planner in planners.items() if name not in broken},
    )


def _plan_domains(
    domains: dict[str, DomainSource],
    contracts: ContractReader,
    plans: dict[Key, ProductPlan],
    errors: list[SpecError],
    broken: dict[str, str],
    excluded: dict[Key, str],
) -> dict[str, DomainPlanner]:
    """Plan each domain as its location plans it, into `plans`, `errors`, `broken` and
    `excluded`; the domains' planners."""
    planners: dict[str, DomainPlanner] = {}
    for domain in domains.values():
        # Only the domain's own left-out files: a location reading another domain's broken
        # product refuses it with an error, and `mesh validate` reports the same.
        name = domain.spec.name
        own = {key: why for key, why in excluded.items() if key[0] == name}
        planner = planners[name] = DomainPlanner(domain, contracts)
        done, failed, left_out = planner.plan_each(own)
        plans.update(done)
        errors.extend(failed)
        if failed and name not in broken:  # its code location refuses to load too
            broken[name] = _first(failed)
        excluded.update(left_out)
        excluded.update(
            {k: "its spec has errors" for k in domain_keys(domain) - set(done) if k not in left_out}
        )
    return planners


def _read_domains(
    root: Path,
) -> tuple[dict[str, DomainSource], list[SpecError], dict[str, str], dict[Key, str]]:
    """Every domain's products whose files load, every error, the domains that do not load
    (with the first error) and the products left out because their file does not load."""
    domains: dict[str, DomainSource] = {}
    errors: list[SpecError] = []
    broken: dict[str, str] = {}
    excluded: dict[Key, str] = {}
    for folder in discover_domains(root):
        try:
            files = domain_files(root, folder.name)
        except SpecError as exc:  # its domain file: nothing of it can be read
            errors.extend(every_error(exc))
            broken[folder.name] = _first(every_error(exc))
            continue
        domains[folder.name] = files.source
        if files.errors:
            errors.extend(files.errors)
            broken[folder.name] = _first(list(files.errors))
            excluded.update(files.left_out)
    return domains, errors, broken, excluded


def domain_keys(domain: DomainSource) -> set[Key]:
    """The keys of a domain's products."""
    return {p.spec.key for p in domain.products}


def _first(errors: list[SpecError]) -> str:
    first = errors[0]
    where = f"{first.file}" + (f":{first.line}" if first.line else "") if first.file else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.problem}{more}" if where else f"{first.problem}{more}"


def _healthy_order(
    root: Path,
    plans: dict[Key, ProductPlan],
    products: dict[Key, ProductSource],
    errors: list[SpecError],
    excluded: dict[Key, str],
) -> tuple[Key, ...]:
    """Planned products after their inputs; a product reading a left-out one is left out, and
    products reading themselves through other domains are an error that leaves them out."""
    graph = {key: set(products[key].spec.input_refs().values()) for key in plans}
    while True:
        _drop_dependents(graph, excluded)
        try:
            return tuple(dependency_order(graph, products, " across domains", root))
        except InputCycle as cycle:
            errors.extend(cycle.errors)
            for key in cycle.products:
                excluded[key] = "its inputs form a cycle across domains"
                graph.pop(key, None)


def _drop_dependents(graph: dict[Key, set[Key]], excluded: dict[Key, str]) -> None:
    changed = True
    while changed:
        changed = False
        for key, refs in list(graph.items()):
            missing = [r for r in sorted(refs) if r not in graph]
            if missing:
                excluded.setdefault(key, f"its input {'.'.join(missing[0])} is left out")
                del graph[key]
                changed = True
