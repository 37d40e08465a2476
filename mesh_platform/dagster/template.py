"""The standard pipeline template, wrapped around every product's materialization.

It classifies a failure as the domain's business logic or the platform's (`run/failures.py`),
logs it as a structured event (`product.failure`), and turns it into a `dg.Failure` whose
metadata carries the class, the step, the likely cause and how to fix it. A success is not
logged: Dagster's step events and the materialization's metadata (rows, Delta version,
seconds) already say it, and each log line is one more event stored per product.
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
from dataclasses import replace
from typing import Any

import dagster as dg

from mesh_platform.errors import BusinessLogicError
from mesh_platform.run.failures import (
    FAILURE_CAUSE,
    FAILURE_CLASS,
    FAILURE_GUIDANCE,
    FAILURE_PRODUCT,
    FAILURE_STEP,
    classify,
)
from mesh_platform.sandbox import domain_code, paths
from mesh_platform.spec.model import ProductSpec

Hook = Callable[[str, ProductSpec, dict[str, Any]], None]
WHY = "template hooks run in a sandbox that cannot read the lake, the landing files or the network"


class HookFailed(BusinessLogicError):
    """A domain's template hook failed, or the sandbox refused what it tried: the domain's
    error, naming the hook, the event and the product; it fails the run."""

    def __init__(self, hook: str, event: str, product: str, what: str) -> None:
        self.hook = hook
        self.event = event
        self.product = product
        super().__init__(f"the template hook {hook!r} ({event}) of product {product!r} {what}")


class SandboxedHook:
    """A hook `package.module:function` called in the sandbox (`sandbox/domain_code.py`): the
    event, the spec (as JSON, rebuilt as a ProductSpec there) and the facts (as JSON) go in;
    what it changes in the facts stays there. With `MESH_SANDBOX=off`, called in this process."""

    def __init__(self, ref: str) -> None:
        self.ref = ref

    def __call__(self, event: str, spec: ProductSpec, facts: dict[str, Any]) -> None:
        if not domain_code.enabled():
            module, _, name = self.ref.partition(":")
            getattr(importlib.import_module(module), name)(event, spec, facts)
            return
        arguments = [event, spec.model_dump(mode="json", by_alias=True), _json(facts)]
        try:
            domain_code.call_function(self.ref, arguments, {1: ProductSpec})
        except domain_code.DomainCodeFailed as exc:
            failure = exc.failure
            what = (
                f"tried to {failure.refused}: {WHY}"
                if failure.refused
                else f"failed: {failure.type}: {failure.message}"
            )
            raise HookFailed(self.ref, event, spec.qualified_name, what) from None


def _json(facts: dict[str, Any]) -> Any:
    return json.loads(json.dumps(facts, default=str))


def _log(context: dg.AssetExecutionContext, event: str, **fields: Any) -> None:
    context.log.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def load_hooks(refs: Sequence[str]) -> list[Hook]:
    """A domain's template hooks, `package.module:function` each: located (not imported: the
    sandbox imports them, on each call), or imported here with `MESH_SANDBOX=off`."""
    hooks: list[Hook] = []
    for ref in refs:
        module, _, name = ref.partition(":")
        if domain_code.enabled():
            paths.locate(module)  # a missing module fails the location's load, as an import does
            hooks.append(SandboxedHook(ref))
        else:
            hooks.append(getattr(importlib.import_module(module), name))
    return hooks


def _call(hooks: Sequence[Hook], event: str, spec: ProductSpec, facts: dict[str, Any]) -> None:
    for hook in hooks:
        try:
            hook(event, spec, facts)
        except HookFailed:
            raise
        except Exception as exc:  # an unsandboxed hook (MESH_SANDBOX=off)
            ref = f"{getattr(hook, '__module__', '?')}:{getattr(hook, '__qualname__', hook)}"
            what = f"failed: {type(exc).__name__}: {exc}"
            raise HookFailed(ref, event, spec.qualified_name, what) from exc


@contextmanager
def product_template(
    context: dg.AssetExecutionContext, spec: ProductSpec, hooks: Sequence[Hook] = ()
) -> Iterator[dict[str, Any]]:
    """Wrap one materialization: classification, the failure's structured log, hooks. The
    hooks get the facts (product, run, partitions; on success rows, Delta version, seconds and
    the message). A hook that fails (or that the sandbox refuses) fails the run as the domain's
    error naming the hook; one failing on `failure` is logged and the run's own failure
    stands."""
    started = time.perf_counter()
    facts: dict[str, Any] = {"product": spec.qualified_name, "run_id": context.run.run_id}
    if context.has_partition_key_range:
        facts["partitions"] = str(context.partition_key_range)
    try:
        _call(hooks, "start", spec, facts)
        yield facts
        facts["seconds"] = round(time.perf_counter() - started, 3)
        _call(hooks, "success", spec, facts)
    except dg.Failure:
        raise
    except Exception as error:
        raise _failure(context, spec, hooks, facts, error, started) from error


def _failure(
    context: dg.AssetExecutionContext,
    spec: ProductSpec,
    hooks: Sequence[Hook],
    facts: dict[str, Any],
    error: Exception,
    started: float,
) -> dg.Failure:
    """The run's failure: classified, logged, told to the `failure` hooks."""
    found = classify(error, spec)
    if isinstance(error, HookFailed):
        found = replace(
            found,
            step=f"hook:{error.hook}",
            guidance=f"the template hook {error.hook!r} of domain {spec.domain!r} failed on "
            f"{error.event!r}; fix the hook ({WHY}; docs/access.md), then re-run.",
        )
    facts.update(
        seconds=round(time.perf_counter() - started, 3),
        failure_class=found.failure_class,
        step=found.step,
        cause=found.cause,
    )
    _log(context, "product.failure", **facts)
    for hook in hooks:
        try:
            _call([hook], "failure", spec, facts)
        except HookFailed as failed:  # the run's own failure is what the run reports
            context.log.error(json.dumps({"event": "product.hook_failure", "error": str(failed)}))
    return dg.Failure(
        description=f"{spec.qualified_name} failed ({found.failure_class}): {found.cause}",
        metadata={
            FAILURE_CLASS: found.failure_class,
            FAILURE_STEP: found.step or "",
            FAILURE_CAUSE: found.cause[:2000],
            FAILURE_GUIDANCE: found.guidance,
            FAILURE_PRODUCT: spec.qualified_name,
        },
    )
