"""The standard pipeline template, wrapped around every product's materialization.

It logs structured events (start, success with rows and time, failure), classifies a failure
as the domain's business logic or the platform's (`run/failures.py`), and turns it into a
`dg.Failure` whose metadata carries the class, the step, the likely cause and how to fix it.
Failure routing
(the platform's sensor) reads that metadata to tell the platform on-call and, for business
logic, the owning domain. Domains extend the template with hooks; they cannot drop it.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from mesh_platform.run.failures import (
    FAILURE_CAUSE,
    FAILURE_CLASS,
    FAILURE_GUIDANCE,
    FAILURE_PRODUCT,
    FAILURE_STEP,
    classify,
)
from mesh_platform.spec.model import ProductSpec

Hook = Callable[[str, ProductSpec, dict[str, Any]], None]


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
                FAILURE_PRODUCT: spec.qualified_name,
            },
        ) from error
    facts["seconds"] = round(time.perf_counter() - started, 3)
    _log(context, "product.success", **facts)
    for hook in hooks:
        hook("success", spec, facts)
