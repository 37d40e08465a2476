"""Plan a draft's text in place of its file: the reading, checks and plan of `mesh validate`
and of a run, with the unsaved YAML standing in for `domains/<domain>/products/<name>.yaml`.

SHARED: owned by B3 (preview), used by B1 (`draft.py`: `Draft.validate` calls `draft_errors`).
Change the signatures here only together with draft.py.

Nothing is written: the text is read as the file would be (`load_product_yaml(..., text)`),
the domain is planned by its own planner (`loader/domain.py` `DomainPlanner`, other domains
by their published contracts, masking on read for this domain), and a cycle through other
domains is refused as `mesh validate` refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.compile.plan import ProductPlan
from mesh_platform.errors import SpecError, every_error
from mesh_platform.loader.domain import ContractReader, DomainPlanner, dependency_order
from mesh_platform.spec.loading import (
    PRODUCTS_DIR,
    DomainSource,
    ProductSource,
    load_domain_spec,
    load_product_yaml,
)
from mesh_platform.spec.workspace import Key, domain_files, domain_folder, load_product

if TYPE_CHECKING:
    from mesh_platform.access.masking import InputMask


def draft_path(root: Path, domain: str, name: str) -> Path:
    """The file a draft stands in for (and is saved to)."""
    return domain_folder(root, domain) / PRODUCTS_DIR / f"{name}.yaml"


def read_draft(root: Path, domain: str, name: str, text: str) -> ProductSource:
    """The draft's text read as its file would be (SpecError/SpecErrors as for the file)."""
    spec = load_domain_spec(domain_folder(root, domain))
    return load_product_yaml(draft_path(root, domain, name), spec, text)


@dataclass(frozen=True)
class PlannedDraft:
    """A draft read and planned: its source, its plan, and how its inputs are masked."""

    source: ProductSource
    plan: ProductPlan
    planner: DomainPlanner
    masks: dict[str, InputMask]


def draft_planner(root: Path, source: ProductSource) -> DomainPlanner:
    """The planner of the draft's domain, with the draft in place of its file (or added).

    Products of the domain whose files do not load are left out, as a code location leaves
    them out; their errors are their files', not the draft's.
    """
    files = domain_files(root, source.spec.domain)
    key = source.spec.key
    others = tuple(p for p in files.source.products if p.spec.key != key)
    domain = DomainSource(files.source.spec, files.source.folder, (*others, source))
    return DomainPlanner(domain, ContractReader(root))


def plan_draft(root: Path, domain: str, name: str, text: str) -> PlannedDraft:
    """Read and plan the draft; raises SpecError(s) as `mesh validate` reports them."""
    source = read_draft(root, domain, name, text)
    planner = draft_planner(root, source)
    plan = planner.plan(source)
    check_cycles(root, source, planner)
    return PlannedDraft(source, plan, planner, input_masks(planner, source))


def input_masks(planner: DomainPlanner, source: ProductSource) -> dict[str, InputMask]:
    """The masking on read of each input of another domain (none when all is clear)."""
    masks = {}
    for port, ref in source.spec.input_refs().items():
        if ref[0] != source.spec.domain:
            mask = planner._mask(source, port, ref)  # the planner's own decision, not a copy
            if mask is not None:
                masks[port] = mask
    return masks


def plan_prefix(planned: PlannedDraft, steps: int) -> ProductPlan:
    """The plan of the draft's first `steps` steps as if they were the whole product, without
    contract or rules (what a node of the builder shows: its columns, tags and formulas)."""
    spec = planned.source.spec.model_copy(
        update={
            "steps": planned.source.spec.steps[:steps],
            "columns": (),
            "quality": (),
            "visibility": "internal",
            "partitioning": None,
        }
    )
    return planned.planner.plan(replace(planned.source, spec=spec))


def check_cycles(root: Path, source: ProductSource, planner: DomainPlanner) -> None:
    """Refuse a draft whose inputs lead back to it through other domains (`mesh validate`'s
    cycle check, over only the products the draft reaches)."""
    key = source.spec.key
    products: dict[Key, ProductSource] = {key: source}
    graph: dict[Key, set[Key]] = {}
    todo = [key]
    while todo:
        current = todo.pop()
        found = products.get(current) or planner.products.get(current)
        if found is None:
            try:
                found = load_product(root, current)
            except SpecError:
                continue  # the planner reports an input that cannot be read
        products[current] = found
        graph[current] = set(found.spec.input_refs().values())
        todo.extend(ref for ref in graph[current] if ref not in graph and ref not in todo)
    graph = {k: {r for r in refs if r in graph} for k, refs in graph.items()}
    dependency_order(graph, products, " across domains", root)


def draft_errors(root: Path, domain: str, name: str, text: str) -> list[SpecError]:
    """Every error `mesh validate` would report for the draft saved in place of its file: its
    own, and those of the domain's products that read it (a changed contract breaks them)."""
    try:
        source = read_draft(root, domain, name, text)
    except SpecError as exc:
        return every_error(exc)
    try:
        planner = draft_planner(root, source)
        check_cycles(root, source, planner)
    except SpecError as exc:
        return every_error(exc)
    _, errors, _ = planner.plan_each()
    paths = [source.path, *(planner.products[k].path for k in dependents(planner, source))]
    concerned = {p.resolve() for p in paths}
    return [e for e in errors if e.file is not None and e.file.resolve() in concerned]


def dependents(planner: DomainPlanner, source: ProductSource) -> set[Key]:
    """The domain's products that read the draft, directly or through others."""
    found: set[Key] = set()
    frontier = {source.spec.key}
    while frontier:
        frontier = {
            key
            for key, p in planner.products.items()
            if key not in found and frontier & set(p.spec.input_refs().values())
        }
        found |= frontier
    return found
