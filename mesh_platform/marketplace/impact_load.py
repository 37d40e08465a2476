"""Just enough of the mesh for one impact question: every spec (the product graph), but plans
only for the domains that hold the product and what is downstream of it.

Planning is what loading a mesh costs (SQL parsed, qualified and traced for lineage: tens of
milliseconds a product); reading a spec is about a hundred times cheaper. On a mesh of
thousands of products, `mesh impact` plans the few domains it needs, each as its code
location plans it (`DomainPlanner`, other domains through their published contracts).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.loader.domain import ContractReader, DomainPlanner
from mesh_platform.loader.mesh import Mesh, MeshSpecs
from mesh_platform.marketplace.impact import ImpactError
from mesh_platform.spec.workspace import Key


def mesh_for_impact(root: Path, name: str) -> Mesh:
    """The mesh under `root`: every spec, with plans for `name`'s domain and the domains
    downstream of it (`plans` holds only those; `order` is the specs' sorted keys)."""
    specs = MeshSpecs.load(root)
    key = _key(specs, name)
    return partial_mesh(root, {k[0] for k in _downstream_keys(specs, key)})


def mesh_for_product(root: Path, name: str) -> Mesh:
    """The mesh under `root`: every spec, with plans for `name`'s domain only (its contract)."""
    return partial_mesh(root, {_key(MeshSpecs.load(root), name)[0]})


def partial_mesh(root: Path, domains: set[str]) -> Mesh:
    """Every spec under `root`, with the plans of `domains` (each planned as its location)."""
    specs = MeshSpecs.load(root)
    contracts = ContractReader(root, specs.products)
    plans: dict[Key, ProductPlan] = {}
    excluded: dict[Key, str] = {}
    broken: dict[str, str] = {}
    for domain in sorted(domains):
        done, failed, left_out = DomainPlanner(specs.domains[domain], contracts).plan_each()
        plans.update(done)
        excluded.update(left_out)
        excluded.update(
            {
                k: "its spec has errors"
                for k in specs.products
                if k[0] == domain and k not in done and k not in left_out
            }
        )
        if failed:
            broken[domain] = failed[0].problem
    # Every spec stays in `products` (the product graph impact walks); only `plans` is partial.
    return Mesh(root, specs.domains, specs.products, specs.order, plans, (), excluded, broken)


def _key(specs: MeshSpecs, name: str) -> Key:
    try:
        return specs.product(name).spec.key
    except KeyError as exc:
        raise ImpactError(str(exc.args[0])) from None


def _downstream_keys(specs: MeshSpecs, root: Key) -> set[Key]:
    consumers: dict[Key, list[Key]] = {}
    for key, source in specs.products.items():
        for up in set(source.spec.input_refs().values()):
            consumers.setdefault(up, []).append(key)
    seen = {root}
    queue = deque([root])
    while queue:
        for consumer in consumers.get(queue.popleft(), ()):
            if consumer not in seen:
                seen.add(consumer)
                queue.append(consumer)
    return seen
