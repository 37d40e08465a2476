"""Just enough of the mesh for one question: plans only for the domains it concerns.

Planning is what loading a mesh costs (SQL parsed, qualified and traced for lineage: tens of
milliseconds a product), and reading a spec through the line-numbering YAML reader is a few
milliseconds more. On a mesh of thousands of products, `mesh impact` first reads only the
`inputs:` of every spec, with a C YAML parser and no validation (the product graph, about
0.2 ms a file), then loads and plans the domains downstream of the product, each as its code
location plans it (`DomainPlanner`, other domains through their published contracts).
`mesh contract` plans the product's own domain only.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import yaml

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.errors import SpecError
from mesh_platform.loader.domain import ContractReader, DomainPlanner
from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.impact import ImpactError
from mesh_platform.spec.discovery import iter_product_sources, product_paths
from mesh_platform.spec.loading import DomainSource, load_domain_spec
from mesh_platform.spec.workspace import Key, discover_domains, domain_package, read_domain

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def mesh_for_impact(root: Path, name: str) -> Mesh:
    """The mesh under `root` with `name`'s domain and every domain downstream of it, planned."""
    graph = input_graph(root)
    key = _key(name)
    if key not in graph:
        raise ImpactError(
            f"no product {name!r}; products look like 'sales.pricing_summary' (see `mesh list`)"
        )
    return partial_mesh(root, {k[0] for k in downstream_keys(graph, key)})


def mesh_for_product(root: Path, name: str) -> Mesh:
    """The mesh under `root` with `name`'s domain planned (enough for its contract)."""
    return partial_mesh(root, {_key(name)[0]})


def partial_mesh(root: Path, domains: set[str]) -> Mesh:
    """`domains` of the mesh under `root`, each loaded and planned as its code location does;
    a domain that does not load is in `broken_domains`."""
    sources: dict[str, DomainSource] = {}
    broken: dict[str, str] = {}
    for domain in sorted(domains):
        try:
            sources[domain] = read_domain(root, domain)
        except SpecError as exc:  # a SpecErrors: its problem is the first error's
            broken[domain] = f"{exc.problem}; `mesh validate` lists every error"
    products = {p.spec.key: p for s in sources.values() for p in s.products}
    contracts = ContractReader(root, products)
    plans: dict[Key, ProductPlan] = {}
    excluded: dict[Key, str] = {}
    for domain, source in sources.items():
        done, failed, left_out = DomainPlanner(source, contracts).plan_each()
        plans.update(done)
        excluded.update(left_out)
        own = [k for k in products if k[0] == domain]
        excluded.update(
            {k: "its spec has errors" for k in own if k not in done and k not in left_out}
        )
        if failed:
            broken[domain] = failed[0].problem
    healthy = {k: products[k] for k in plans}
    return Mesh(root, sources, healthy, tuple(sorted(plans)), plans, (), excluded, broken)


def input_graph(root: Path) -> dict[Key, tuple[Key, ...]]:
    """Every product under `root` with the products it reads, from the specs' `inputs:` only.

    A file that does not parse is left out (the domain's load reports it); Python-authored
    products are imported for theirs.
    """
    graph: dict[Key, tuple[Key, ...]] = {}
    for folder in discover_domains(root):
        domain = folder.name
        for path in product_paths(folder, (".yaml",)):
            try:
                data = yaml.load(path.read_text(), Loader=_LOADER)
            except (yaml.YAMLError, OSError, UnicodeDecodeError):
                continue
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                inputs = data.get("inputs") or {}
                refs = inputs.values() if isinstance(inputs, dict) else ()
                graph[(domain, data["name"])] = tuple(_ref(domain, str(r)) for r in refs)
        graph.update(_python_inputs(folder))
    return graph


def _python_inputs(folder: Path) -> dict[Key, tuple[Key, ...]]:
    """The inputs of the Python-authored products of a domain folder whose modules load."""
    modules = product_paths(folder, (".py",))
    if not modules:
        return {}
    try:
        spec = load_domain_spec(folder)
    except SpecError:
        return {}
    files = iter_product_sources(folder, spec, domain_package(folder.name), modules)
    return {
        source.spec.key: tuple(source.spec.input_refs().values())
        for file in files
        for source in file.products
    }


def downstream_keys(graph: dict[Key, tuple[Key, ...]], root: Key) -> set[Key]:
    """`root` and every product that reads it, transitively."""
    consumers: dict[Key, list[Key]] = {}
    for key, inputs in graph.items():
        for up in set(inputs):
            consumers.setdefault(up, []).append(key)
    seen = {root}
    queue = deque([root])
    while queue:
        for consumer in consumers.get(queue.popleft(), ()):
            if consumer not in seen:
                seen.add(consumer)
                queue.append(consumer)
    return seen


def _ref(domain: str, ref: str) -> Key:
    owner, _, product = ref.rpartition(".")
    return (owner or domain, product)


def _key(name: str) -> Key:
    domain, _, product = name.partition(".")
    return (domain, product)
