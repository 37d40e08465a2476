"""Planning one domain: its products in dependency order, other domains by contract only.

The planner reads the domain's own folder and, for each input from another domain, that one
product's spec (its published contract). It never plans or lists the rest of the mesh, so a
code location loads in the same time whatever the number of other domains, and a spec error
in a domain it does not read cannot stop it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.column_types import Schema
from mesh_platform.compile.contracts import PublishedContract, check_published, contract_of
from mesh_platform.compile.plan import ProductPlan, plan_product
from mesh_platform.engine.registry import available_engines, default_engine
from mesh_platform.errors import SpecError, SpecErrors, every_error
from mesh_platform.spec.discovery import UnknownProduct, shown_path
from mesh_platform.spec.loading import DomainSource, ProductSource
from mesh_platform.spec.model import PythonStep
from mesh_platform.spec.workspace import Key, load_product, product_names, read_domain

if TYPE_CHECKING:
    from mesh_platform.access.masking import InputMask


class ContractReader:
    """Published contracts of other domains' products, each read once from its spec file."""

    def __init__(self, root: Path, known: Mapping[Key, ProductSource] | None = None) -> None:
        self.root = root
        self._known = dict(known or {})
        self._contracts: dict[Key, PublishedContract | SpecError] = {}
        self._spec_tags: dict[Key, dict[str, str]] = {}

    def contract(self, key: Key) -> PublishedContract:
        """The contract of `key`; a SpecError when the product does not exist or is broken."""
        found = self._contracts.get(key)
        if found is None:
            found = self._contracts[key] = self._read(key)
        if isinstance(found, SpecError):
            raise found
        return found

    def spec_tags(self, key: Key) -> dict[str, str]:
        """The product-level tags of `key`'s spec (read with its contract), for the policy."""
        self.contract(key)
        return self._spec_tags.get(key, {})

    def candidates(self, ref: Key) -> list[Key]:
        """Products of `ref`'s domain (every known one when that domain does not exist)."""
        names = product_names(self.root, ref[0])
        return [(ref[0], n) for n in names] or list(self._known)

    def _read(self, key: Key) -> PublishedContract | SpecError:
        source = self._known.get(key)
        if source is None:
            try:
                source = load_product(self.root, key)
            except SpecError as exc:  # UnknownProduct, or the first error of its file
                return every_error(exc)[0]
        self._spec_tags[key] = dict(source.spec.tags)
        return contract_of(source)


class DomainPlanner:
    """A domain's products and their plans, planned on demand and once each."""

    def __init__(self, domain: DomainSource, contracts: ContractReader) -> None:
        self.domain = domain
        self.contracts = contracts
        self.products: dict[Key, ProductSource] = {p.spec.key: p for p in domain.products}
        self._plans: dict[Key, ProductPlan] = {}
        self._landing: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """The domain's name."""
        return self.domain.spec.name

    def order(self) -> list[Key]:
        """The domain's products, each after the products of the domain it reads."""
        graph = {
            key: {ref for ref in source.spec.input_refs().values() if ref in self.products}
            for key, source in self.products.items()
        }
        return dependency_order(graph, self.products)

    def plan_all(self) -> dict[Key, ProductPlan]:
        """Every product's plan; every error of the domain is collected before raising."""
        plans, errors, _ = self.plan_each()
        if errors:
            raise SpecErrors(errors)
        return plans

    def plan_each(
        self, left_out: Mapping[Key, str] | None = None
    ) -> tuple[dict[Key, ProductPlan], list[SpecError], dict[Key, str]]:
        """Plan every product that can be: (plans, errors, products left out with the reason).

        A product is left out, without an error of its own, when one of its inputs is in
        `left_out` (e.g. a sibling whose file does not load) or failed to plan: its own spec
        may be fine, and the input's error is reported once, at the input.
        """
        blocked: dict[Key, str] = dict(left_out or {})
        try:
            order = self.order()
        except SpecErrors as exc:
            reason = "the domain's inputs form a cycle"
            return {}, list(exc.errors), {key: reason for key in self.products}
        errors: list[SpecError] = []
        excluded: dict[Key, str] = {}
        for key in order:
            inputs = self.products[key].spec.input_refs().values()
            broken = [ref for ref in inputs if ref in blocked]
            if broken:
                excluded[key] = blocked[key] = f"its input {'.'.join(broken[0])} is left out"
                continue
            try:
                self.plan(self.products[key])
            except SpecError as exc:
                errors.extend(every_error(exc))
                blocked[key] = "its spec has errors"
        plans = {key: self._plans[key] for key in order if key in self._plans}
        return plans, errors, excluded

    def plan(self, source: ProductSource) -> ProductPlan:
        """The plan of `source` (a product of this domain, or a new spec written for it)."""
        key = source.spec.key
        known = self.products.get(key)
        if known is not None and known.spec == source.spec and key in self._plans:
            return self._plans[key]
        # The access package's __init__ loads the subscriptions' catalog models: not at import.
        from mesh_platform.access.masking import mask_plan
        from mesh_platform.access.readonly import check_python_step

        self._check_engine(source)
        self._check_landing(source)
        for index, step in enumerate(source.spec.steps):
            if isinstance(step, PythonStep):
                check_python_step(source, index, step.python)
        schemas: dict[str, Schema | None] = {}
        tags: dict[str, Mapping[str, tuple[str, ...]]] = {}
        masks: dict[str, InputMask] = {}
        for port, ref in source.spec.input_refs().items():
            schemas[port], tags[port] = self._input(source, port, ref)
            mask = self._mask(source, port, ref) if ref[0] != self.name else None
            if mask is not None:
                # The consumer's steps are checked against what it will see; the tags stay:
                # what it derives from a column it sees masked keeps the column's sensitivity.
                masks[port], schemas[port] = mask, mask.schema
        plan = plan_product(source, schemas, tags)
        check_published(source, plan)
        plan = mask_plan(source, plan, masks)
        if known is not None and known.spec == source.spec:
            self._plans[key] = plan
        return plan

    def _input(
        self, source: ProductSource, port: str, ref: Key
    ) -> tuple[Schema | None, Mapping[str, tuple[str, ...]]]:
        if ref == source.spec.key:
            raise source.error(
                f"input {port!r} reads the product itself",
                "inputs",
                port,
                fix="a product cannot be its own input",
            )
        if ref[0] == self.name:
            upstream = self.products.get(ref)
            if upstream is None:
                raise source.error(
                    f"input {port!r} refers to unknown product {'.'.join(ref)!r}",
                    "inputs",
                    port,
                    fix=_suggest(ref, self.products),
                )
            plan = self.plan(upstream)
            return plan.schema, {c.name: c.tags for c in plan.columns}
        try:
            contract = self.contracts.contract(ref)
        except UnknownProduct:
            raise source.error(
                f"input {port!r} refers to unknown product {'.'.join(ref)!r}",
                "inputs",
                port,
                fix=_suggest(ref, self.contracts.candidates(ref)),
            ) from None
        except SpecError as exc:
            raise source.error(
                f"input {port!r} refers to {'.'.join(ref)!r}, which cannot be read: {exc.problem}",
                "inputs",
                port,
                fix=exc.fix
                or "inputs are 'product' (same domain) or 'domain.product'; see `mesh list`",
            ) from None
        if contract.visibility != "published":
            raise source.error(
                f"input {port!r} reads {contract.qualified_name}, an internal product of the "
                f"{ref[0]} domain; other domains may read only published products",
                "inputs",
                port,
                fix=f"read a published product (`mesh list --domain {ref[0]}`), or ask the "
                f"{ref[0]} team to publish it (`visibility: published`)",
            )
        return contract.schema, contract.tags

    def _mask(self, source: ProductSource, port: str, ref: Key) -> InputMask | None:
        """What the access policy masks of another domain's product for this domain."""
        from mesh_platform.access.masking import input_mask
        from mesh_platform.access.policy import access_for

        contract = self.contracts.contract(ref)
        access = access_for(
            ref[0],
            contract.tags,
            self.name,
            self.domain.spec.clearances,
            self.contracts.spec_tags(ref),
            {c.name: c.type for c in contract.columns},
        )
        if not access.readable:
            raise source.error(
                f"input {port!r} reads {contract.qualified_name}, which the access policy "
                f"does not let the {self.name} domain read ({access.because})",
                "inputs",
                port,
                fix="ask the platform team for the clearance named above: `mesh "
                f"request-clearance {self.name} CLEARANCE --reason ...` (granted in "
                "governance/clearances.yaml, not in domain.yaml; see docs/access.md)",
            )
        schema = {c.name: c.type for c in contract.columns}
        return input_mask(port, schema, access)

    def _check_landing(self, source: ProductSource) -> None:
        """Only the platform's ingestion domains declare landing sources (`access/landing.py`)."""
        if source.spec.source is None:
            return
        from mesh_platform.access.landing import check_landing_source, landing_domains

        if self._landing is None:
            self._landing = landing_domains(self.contracts.root)
        check_landing_source(source, self._landing)

    @staticmethod
    def _check_engine(source: ProductSource) -> None:
        engine = source.spec.engine or default_engine()
        if engine not in available_engines():
            raise source.error(
                f"engine {engine!r} is not available in this version of Mesh",
                "engine",
                fix="use "
                + " or ".join(f"`engine: {name}`" for name in available_engines())
                + ", or leave it out (the deployment's default engine)",
            )


class InputCycle(SpecErrors):
    """Products whose inputs form a cycle: the error, and the products in it."""

    def __init__(self, error: SpecError, products: Iterable[Key]) -> None:
        super().__init__([error])
        self.products = tuple(products)


def dependency_order(
    graph: Mapping[Key, set[Key]],
    products: Mapping[Key, ProductSource],
    across: str = "",
    root: Path | None = None,
) -> list[Key]:
    """Products after their inputs; a cycle is an `InputCycle` at the first product in it.

    With `root` (a cycle across domains), the message names each product's file too.
    """
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        names = [".".join(k) for k in reversed(cycle)]
        if root is not None:  # each product once with its file
            names[:-1] = [
                f"{n} ({shown_path(products[k].path, root)})"
                for n, k in zip(names, cycle[:0:-1], strict=False)
            ]
        error = products[cycle[0]].error(
            f"inputs form a cycle{across}: {' -> '.join(names)}",
            "inputs",
            fix="a product cannot depend on itself via others; drop one of these inputs",
        )
        raise InputCycle(error, cycle[:-1]) from None


def _suggest(ref: Key, products: Iterable[Key]) -> str:
    names = [".".join(k) for k in products]
    close = difflib.get_close_matches(".".join(ref), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + "inputs are 'product' (same domain) or 'domain.product'; see `mesh list`"


# Planners a loaded mesh offers to the code locations imported in the same command.
_OFFERED: dict[tuple[Path, str], DomainPlanner] = {}


@contextmanager
def planners_offered(root: Path, planners: Iterable[DomainPlanner]) -> Iterator[None]:
    """Inside the block, `planner_for(root, <domain>)` takes the given domain's planner, its
    products already planned, instead of reading and planning the domain again: a command that
    loaded the mesh imports a code location without planning its products twice. Outside, and
    for any other domain, `planner_for` reads the files as before."""
    offered = {(root, planner.name): planner for planner in planners}
    _OFFERED.update(offered)
    try:
        yield
    finally:
        for key in offered:
            _OFFERED.pop(key, None)


@functools.lru_cache(maxsize=64)
def planner_for(root: Path, domain: str) -> DomainPlanner:
    """The planner of `domain` under `root`, one per process (a code location's)."""
    offered = _OFFERED.get((root, domain))
    if offered is not None:
        return offered
    return DomainPlanner(read_domain(root, domain), ContractReader(root))
