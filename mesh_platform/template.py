"""The standard pipeline template, wrapped around every product's materialization.

It logs structured events (start, success with rows and time, failure), classifies a failure
as the domain's business logic or the platform's, and turns it into a `dg.Failure` whose
metadata carries the class, the step, the likely cause and how to fix it. Failure routing
(the platform's sensor) reads that metadata to tell the platform on-call and, for business
logic, the owning domain. Domains extend the template with hooks; they cannot drop it.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from mesh_platform.errors import BusinessLogicError, PlatformError, SpecError
from mesh_platform.spec.model import ProductSpec

BUSINESS_LOGIC = "business_logic"
PLATFORM = "platform"
FAILURE_CLASS = "mesh/failure_class"
FAILURE_STEP = "mesh/failed_step"
FAILURE_GUIDANCE = "mesh/guidance"
FAILURE_CAUSE = "mesh/cause"

Hook = Callable[[str, ProductSpec, dict[str, Any]], None]


@dataclass(frozen=True)
class Classified:
    """A failure, classified, with guidance for whoever has to fix it."""

    failure_class: str
    step: str | None
    cause: str
    guidance: str


def classify(error: BaseException, spec: ProductSpec) -> Classified:
    """Business logic (the domain fixes it) or platform (the platform team fixes it)."""
    from mesh_platform.engine.local import StepFailed

    cause = f"{type(error).__name__}: {error}"
    if isinstance(error, StepFailed):
        origin = error.__cause__
        if _is_platform_cause(origin):
            return Classified(
                PLATFORM,
                error.step,
                cause,
                "the engine or storage failed while running the step; the platform team is on it",
            )
        what = "SQL" if error.kind == "sql" else f"{error.kind} step"
        return Classified(
            BUSINESS_LOGIC,
            error.step,
            cause,
            f"the {what} {error.step!r} of {spec.qualified_name} failed. Reproduce it with "
            f"`mesh preview {spec.qualified_name}`, fix the step in the product spec, and check "
            f"with `mesh test {spec.qualified_name}` before re-running.",
        )
    if isinstance(error, (BusinessLogicError, SpecError)):
        return Classified(
            BUSINESS_LOGIC,
            None,
            cause,
            f"{spec.qualified_name} produced data that breaks its own contract or rules. "
            "Change the last step or the `columns:` of the spec, then re-run.",
        )
    if isinstance(error, PlatformError) or _is_platform_cause(error):
        return Classified(
            PLATFORM,
            None,
            cause,
            "storage, landing data or configuration failed; the platform team "
            "is on it. Nothing was written; the previous version is intact.",
        )
    return Classified(
        PLATFORM, None, cause, "an unexpected platform error; the platform team is on it."
    )


def _is_platform_cause(error: BaseException | None) -> bool:
    if error is None:
        return False
    import duckdb

    platform_types: tuple[type[BaseException], ...] = (
        PlatformError,
        OSError,
        MemoryError,
        duckdb.IOException,
        duckdb.OutOfMemoryException,
    )
    return isinstance(error, platform_types)


def _log(context: dg.AssetExecutionContext, event: str, **fields: Any) -> None:
    context.log.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def load_hooks(refs: Sequence[str]) -> list[Hook]:
    """A domain's template hooks, `package.module:function` each."""
    hooks = []
    for ref in refs:
        module, _, name = ref.partition(":")
        hooks.append(getattr(importlib.import_module(module), name))
    return hooks


@contextmanager
def product_template(
    context: dg.AssetExecutionContext, spec: ProductSpec, hooks: Sequence[Hook] = ()
) -> Iterator[dict[str, Any]]:
    """Wrap one materialization: structured logs, classification, hooks."""
    started = time.perf_counter()
    facts: dict[str, Any] = {"product": spec.qualified_name, "run_id": context.run.run_id}
    if context.has_partition_key_range:
        facts["partitions"] = str(context.partition_key_range)
    _log(context, "product.start", **facts)
    for hook in hooks:
        hook("start", spec, facts)
    try:
        yield facts
    except dg.Failure:
        raise
    except Exception as error:
        found = classify(error, spec)
        facts.update(
            seconds=round(time.perf_counter() - started, 3),
            failure_class=found.failure_class,
            step=found.step,
            cause=found.cause,
        )
        _log(context, "product.failure", **facts)
        for hook in hooks:
            hook("failure", spec, facts)
        raise dg.Failure(
            description=f"{spec.qualified_name} failed ({found.failure_class}): {found.cause}",
            metadata={
                FAILURE_CLASS: found.failure_class,
                FAILURE_STEP: found.step or "",
                FAILURE_CAUSE: found.cause[:2000],
                FAILURE_GUIDANCE: found.guidance,
                "mesh/product": spec.qualified_name,
            },
        ) from error
    facts["seconds"] = round(time.perf_counter() - started, 3)
    _log(context, "product.success", **facts)
    for hook in hooks:
        hook("success", spec, facts)
