"""Materializing many products: whole mesh, domains, products or a Dagster asset selection, in
dependency order.

Each domain is its own code location, so a run never spans domains: runs go domain by domain
in the order the mesh's cross-domain inputs require. Within a domain, one run covers each
stretch of products that share a partitioning; partitioned products run as a single-run
backfill over all their partitions. A product whose input failed (or could not run) in this
same invocation is not run: it is reported as skipped, with the reason.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from mesh_platform.config import environment
from mesh_platform.dagster.partitions import partitions_def
from mesh_platform.dagster.selection import select
from mesh_platform.loader.domain import planners_offered
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.failures import (
    BUSINESS_LOGIC,
    FAILURE_CAUSE,
    FAILURE_CLASS,
    FAILURE_GUIDANCE,
    FAILURE_PRODUCT,
    FAILURE_STEP,
    PLATFORM,
    FailureReport,
    spec_location,
)
from mesh_platform.spec.model import ProductSpec
from mesh_platform.spec.workspace import Key

__all__ = [
    "RunSummary",
    "imported_definitions",
    "materialize_selection",
    "missing_upstream",
    "select",
]


@dataclass(frozen=True)
class RunSummary:
    """One Dagster run the orchestration launched.

    `products` are the products the run was launched for; `materialized` those it actually
    wrote; `failures` one report per failed product (none for products Dagster skipped
    because an input failed in the same run: they are in `skipped`); `held` those it left
    as they are because they are held after a rollback (`mesh release` lifts it).
    """

    domain: str
    products: tuple[str, ...]
    run_id: str
    success: bool
    seconds: float
    partitions: str | None = None
    error: str | None = None
    materialized: tuple[str, ...] = ()
    failures: tuple[FailureReport, ...] = ()
    skipped: tuple[str, ...] = ()
    held: tuple[str, ...] = ()


def imported_definitions(domain: str, mesh: Mesh | None = None) -> dg.Definitions:
    """The Definitions of a domain's code location (`domains.<domain>.definitions`).

    With `mesh` (loaded by this command), a location imported for the first time takes the
    mesh's planned products instead of planning them again.
    """
    if mesh is None:
        return importlib.import_module(f"domains.{domain}.definitions").defs
    with planners_offered(mesh.root, mesh.planners.values()):
        return importlib.import_module(f"domains.{domain}.definitions").defs


def missing_upstream(mesh: Mesh, keys: Iterable[Key], exists: Callable[[Key], bool]) -> list[Key]:
    """Inputs the products `keys` need that have no table yet (and theirs, recursively), in
    dependency order: what must be built first."""
    selected = set(keys)
    needed: set[Key] = set()
    stack = list(selected)
    seen: set[Key] = set()
    while stack:
        for ref in mesh.upstream(stack.pop()):
            if ref in selected or ref in seen:
                continue
            seen.add(ref)
            if not exists(ref):
                needed.add(ref)
                stack.append(ref)
    return [key for key in mesh.order if key in needed]


def _batches(mesh: Mesh, keys: Iterable[Key]) -> list[list[Key]]:
    """Runs to launch, upstream first: each holds products of one domain and one partitioning
    whose selected inputs are done by earlier runs or in the same run (Dagster orders the
    products inside a run), as few runs as that allows. Domains may read each other (platform
    reads sales, which reads platform): runs follow the products' order, not the domains'.
    """
    selected = set(keys)
    remaining = [key for key in mesh.order if key in selected]
    batches: list[list[Key]] = []
    while remaining:
        # The first remaining product's selected inputs are all done (the order is upstream
        # first), so every batch takes at least that one.
        domain, partitioning = remaining[0][0], mesh.products[remaining[0]].spec.partitioning
        batch: list[Key] = []
        for key in remaining:
            waiting = {u for u in mesh.upstream(key) if u in selected} - set(batch)
            ready = not waiting & set(remaining)
            same = key[0] == domain and mesh.products[key].spec.partitioning == partitioning
            if same and ready:
                batch.append(key)
        batches.append(batch)
        remaining = [k for k in remaining if k not in batch]
    return batches


def materialize_selection(
    mesh: Mesh,
    keys: Iterable[Key],
    instance: dg.DagsterInstance,
    on_run: Callable[[RunSummary], None] | None = None,
    raise_on_failure: bool = True,
    log_level: str = "INFO",
    on_skip: Callable[[Key, str], None] | None = None,
    run_tags: Mapping[str, str] | None = None,
) -> list[RunSummary]:
    """Materialize `keys` once each, upstream first, recording runs in `instance`.

    `run_tags`: more tags on every run (e.g. `mesh/full_refresh: true`).

    `log_level` is the level of Dagster's console logs; every event is recorded in the
    instance whatever it is. A product of a domain whose code location does not load, or
    whose input in this selection was not materialized, is not run: `on_skip` hears why.
    """
    if environment.current_profile() == "prod":
        from mesh_platform.dagster.location import require_celery_workers

        require_celery_workers()
    selected = set(keys)
    blocked: dict[Key, str] = {}
    summaries = []
    for batch in _batches(mesh, selected):
        domain = batch[0][0]
        runnable = []
        for key in batch:
            reason = _blocked_by(mesh, key, selected, blocked)
            if reason is None:
                runnable.append(key)
                continue
            blocked[key] = reason
            if on_skip is not None:
                on_skip(key, reason)
        if not runnable:
            continue
        summary = _run(
            mesh, domain, runnable, instance, raise_on_failure, log_level, run_tags or {}
        )
        for key in runnable:
            if key[1] not in summary.materialized:
                blocked[key] = "it was not materialized"
        summaries.append(summary)
        if on_run is not None:
            on_run(summary)
    return summaries


def _blocked_by(mesh: Mesh, key: Key, selected: set[Key], blocked: dict[Key, str]) -> str | None:
    if key[0] in mesh.broken_domains:
        return f"the {key[0]} code location does not load ({mesh.broken_domains[key[0]]})"
    for ref in sorted(mesh.upstream(key)):
        if ref in selected and ref in blocked:
            return f"its input {'.'.join(ref)} was not materialized"
    return None


def _run(
    mesh: Mesh,
    domain: str,
    batch: list[Key],
    instance: dg.DagsterInstance,
    raise_on_failure: bool,
    log_level: str,
    more_tags: Mapping[str, str],
) -> RunSummary:
    """Launch one run of `batch` (products of `domain` of one partitioning, over all its
    partitions) and summarize what it did."""
    defs = imported_definitions(domain, mesh)
    tags, partitions = _run_tags(mesh.products[batch[0]].spec)
    tags.update(more_tags)
    started = time.perf_counter()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    result: dg.ExecutionResult
    if environment.current_profile() == "prod":
        # The location's own job and executor (Celery workers), loadable by the workers.
        from mesh_platform.dagster.location import run_in_location

        result = run_in_location(
            mesh.root, domain, batch, instance, tags, run_config, raise_on_failure
        )
    else:
        result = dg.materialize(
            [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)],
            selection=[dg.AssetKey(list(k)) for k in batch],
            instance=instance,
            resources=defs.resources,
            tags=tags,
            raise_on_error=raise_on_failure,
            run_config=run_config,
        )
    return _summarize(mesh, domain, batch, instance, result, partitions, started)


def _run_tags(spec: ProductSpec) -> tuple[dict[str, str], str | None]:
    """The tags of a run of products like `spec`'s (all its partitions, if it has any), and
    the partitions as shown (`first..last`; None when unpartitioned)."""
    tags: dict[str, str] = {"mesh/launched_by": "mesh-cli"}
    partitions = None
    pdef = partitions_def(spec)
    if pdef is not None:
        all_keys = pdef.get_partition_keys()
        tags["dagster/asset_partition_range_start"] = all_keys[0]
        tags["dagster/asset_partition_range_end"] = all_keys[-1]
        partitions = f"{all_keys[0]}..{all_keys[-1]}"
    return tags, partitions


def _summarize(
    mesh: Mesh,
    domain: str,
    batch: list[Key],
    instance: dg.DagsterInstance,
    result: dg.ExecutionResult,
    partitions: str | None,
    started: float,
) -> RunSummary:
    """What the run (started at `started`, `time.perf_counter()`) wrote, failed, skipped and
    left held."""
    written = {
        tuple(e.asset_key.path)
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    }
    failures = _failures(mesh, result)
    # Products that did not run because an input failed in this run (not when the whole run
    # failed outside the steps: that is one platform failure).
    failed = {f.product for f in failures} if failures else {".".join(k) for k in batch}
    failures = failures or _run_failure(batch, result)
    materialized = tuple(k[1] for k in batch if k in written)
    held = _held(instance, result.run_id, domain)
    return RunSummary(
        domain,
        tuple(k[1] for k in batch),
        result.run_id,
        result.success,
        time.perf_counter() - started,
        partitions,
        failures[0].render().splitlines()[0] if failures else None,
        materialized,
        tuple(failures),
        tuple(
            k[1]
            for k in batch
            if k[1] not in materialized and ".".join(k) not in failed and k[1] not in held
        ),
        held,
    )


def _held(instance: dg.DagsterInstance, run_id: str, domain: str) -> tuple[str, ...]:
    """The products of `domain` the run left alone because they are held (its `mesh/held`)."""
    from mesh_platform.dagster.holds import HELD_TAG

    run = instance.get_run_by_id(run_id)
    listed = run.tags.get(HELD_TAG, "") if run is not None else ""
    return tuple(
        name.partition(".")[2] for name in listed.split(",") if name.startswith(f"{domain}.")
    )


def _failures(mesh: Mesh, result: dg.ExecutionResult) -> list[FailureReport]:
    """One report per failed step, from what the pipeline template recorded on its failure."""
    reports = []
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        meta = {k: v.value for k, v in (user.metadata if user else {}).items()}
        step_key = event.step_key or ""
        domain, _, name = step_key.partition("__")
        product = str(meta.get(FAILURE_PRODUCT) or f"{domain}.{name}")
        error = data.error.message.strip() if data.error else ""
        failure_class = BUSINESS_LOGIC if meta.get(FAILURE_CLASS) == BUSINESS_LOGIC else PLATFORM
        step = str(meta.get(FAILURE_STEP) or "")
        cause = str(meta.get(FAILURE_CAUSE) or (user.description if user else "") or error)
        report = FailureReport(
            product=product,
            failure_class=failure_class,
            step=step,
            cause=cause,
            guidance=str(meta.get(FAILURE_GUIDANCE) or ""),
            run_id=result.run_id,
        )
        source = mesh.products.get((product.partition(".")[0], product.partition(".")[2]))
        if source is not None and failure_class == BUSINESS_LOGIC:
            file, line = spec_location(source, step)
            report = FailureReport(**{**report.__dict__, "file": file, "line": line})
        reports.append(report)
    return reports


def _run_failure(batch: list[Key], result: dg.ExecutionResult) -> list[FailureReport]:
    """A run that failed outside any product's step (launch, resources): one platform report."""
    if result.success:
        return []
    messages = [
        e.message or ""
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.RUN_FAILURE
    ]
    return [
        FailureReport(
            product=", ".join(".".join(k) for k in batch),
            failure_class=PLATFORM,
            step="run",
            cause=(messages[0] if messages else "") or "the run failed before its products ran",
            guidance="the run failed outside the products' steps; `--verbose` shows Dagster's "
            "log. The platform team is on it.",
            run_id=result.run_id,
        )
    ]
