"""Failure routing: every failed step goes to the platform on-call, business logic also to
the owning domain, with guidance and a link to the run.

The classification is the pipeline template's (`mesh/failure_class` on the step's
`dg.Failure`); a failure without it is the platform's. Severity and time to recover come from
the domain file, overridden by a product's `severity` / `time_to_recover_hours` tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.run.failures import (
    BUSINESS_LOGIC,
    FAILURE_CAUSE,
    FAILURE_CLASS,
    FAILURE_GUIDANCE,
    FAILURE_PRODUCT,
    FAILURE_STEP,
    PLATFORM,
    FailureClass,
)
from mesh_platform.spec.model import DomainSpec

PLATFORM_DOMAIN = "platform"


@dataclass(frozen=True)
class FailureFacts:
    """One failed step, classified."""

    step_key: str
    product: str | None
    failure_class: FailureClass
    failed_step: str
    cause: str
    guidance: str


def facts_from_event(event: dg.DagsterEvent, mesh: MeshSpecs) -> FailureFacts:
    """What the template recorded on a step failure (platform when it recorded nothing)."""
    data = event.step_failure_data
    user = data.user_failure_data if data is not None else None
    meta = {k: v.value for k, v in (user.metadata if user else {}).items()}
    error = data.error.message.strip() if data is not None and data.error else ""
    step_key = event.step_key or ""
    product = meta.get(FAILURE_PRODUCT) or _product_of_step(step_key, mesh)
    failure_class: FailureClass = (
        BUSINESS_LOGIC if meta.get(FAILURE_CLASS) == BUSINESS_LOGIC else PLATFORM
    )
    return FailureFacts(
        step_key=step_key,
        product=str(product) if product else None,
        failure_class=failure_class,
        failed_step=str(meta.get(FAILURE_STEP) or step_key),
        cause=str(meta.get(FAILURE_CAUSE) or (user.description if user else "") or error)[:2000],
        guidance=str(
            meta.get(FAILURE_GUIDANCE)
            or "an unexpected platform error; the platform team is looking into it."
        ),
    )


def _product_of_step(step_key: str, mesh: MeshSpecs) -> str | None:
    domain, _, name = step_key.partition("__")
    return f"{domain}.{name}" if (domain, name) in mesh.products else None


def _domain_of(product: str | None, mesh: MeshSpecs) -> DomainSpec:
    domain = product.partition(".")[0] if product else PLATFORM_DOMAIN
    source = mesh.domains.get(domain) or mesh.domains.get(PLATFORM_DOMAIN)
    if source is None:  # a mesh without a platform domain (tests): a minimal stand-in
        return DomainSpec(name=domain, team=domain)
    return source.spec


def recipients(domain: DomainSpec) -> tuple[str, ...]:
    """A domain's channels, plus its on-call by email."""
    found = list(domain.channels)
    if domain.on_call and "@" in domain.on_call:
        found.append(f"email:{domain.on_call}")
    return tuple(dict.fromkeys(found))


def severity_of(product: str | None, mesh: MeshSpecs) -> tuple[str, float]:
    """Severity and expected hours to recover: the product's tags, else its domain file."""
    domain = _domain_of(product, mesh)
    severity: str = domain.severity
    hours = domain.time_to_recover_hours
    if product:
        key = tuple(product.split(".", 1))
        source = mesh.products.get((key[0], key[1])) if len(key) == 2 else None
        if source is not None:
            severity = source.spec.tags.get("severity", severity)
            hours = float(source.spec.tags.get("time_to_recover_hours", hours))
    return severity, hours


def drafts_for_failure(
    facts: FailureFacts, run_id: str, run_url: str, mesh: MeshSpecs
) -> list[AlertDraft]:
    """The platform on-call's alert first; the owning domain's when it is business logic."""
    owner = _domain_of(facts.product, mesh)
    platform = _domain_of(None, mesh)
    severity, hours = severity_of(facts.product, mesh)
    what = facts.product or "a run"
    body = (
        f"What failed: {what}, step {facts.failed_step!r} ({facts.failure_class}).\n"
        f"Likely cause: {facts.cause}\n"
        f"How to fix: {facts.guidance}"
    )
    common: dict[str, Any] = dict(
        kind="run_failure",
        body=body,
        severity=severity,
        product=facts.product,
        failure_class=facts.failure_class,
        run_id=run_id,
        run_url=run_url,
        time_to_recover_hours=hours,
    )
    base = f"run_failure:{run_id}:{facts.step_key or 'run'}"
    drafts = [
        AlertDraft(
            dedupe_key=f"{base}:platform",
            audience="platform",
            domain=owner.name,
            title=f"[{severity}] {what} failed ({facts.failure_class}) in run {run_id[:8]}",
            recipients=recipients(platform),
            **common,
        )
    ]
    if facts.failure_class == BUSINESS_LOGIC and owner.name != platform.name:
        drafts.append(
            AlertDraft(
                dedupe_key=f"{base}:domain",
                audience="domain",
                domain=owner.name,
                title=f"[{severity}] {what}: your product failed; how to fix it inside",
                recipients=recipients(owner),
                **common,
            )
        )
    return drafts


def route_run_failure(
    run: dg.DagsterRun,
    step_failures: Iterable[dg.DagsterEvent],
    notifier: Notifier,
    mesh: MeshSpecs,
) -> list[AlertDraft]:
    """Raise the alerts of one failed run (idempotent: replays send nothing twice)."""
    events = list(step_failures)
    facts = [facts_from_event(e, mesh) for e in events]
    if not facts:  # the run failed outside any step (launch, resources)
        facts = [FailureFacts("", None, PLATFORM, "run", "the run failed before its steps", "")]
    url = notifier.run_url(run.run_id)
    drafts = [d for f in facts for d in drafts_for_failure(f, run.run_id, url, mesh)]
    for draft in drafts:
        notifier.publish(draft)
    return drafts


def build_failure_sensor(mesh_root: Path | None = None) -> dg.SensorDefinition:
    """The platform's failure-routing sensor, watching every code location."""

    @dg.run_failure_sensor(
        name="mesh_failure_routing",
        monitor_all_code_locations=True,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Routes each failed step: the platform on-call always, the owning domain "
        "too for business-logic failures (with guidance and a link to the run).",
    )
    def mesh_failure_routing(context: dg.RunFailureSensorContext, notifier: Notifier) -> None:
        """Classify each failed step of the run and notify (once) who must act."""
        drafts = route_run_failure(
            context.dagster_run,
            context.get_step_failure_events(),
            notifier,
            MeshSpecs.load(mesh_root),
        )
        context.log.info(f"routed {len(drafts)} alert(s) for run {context.dagster_run.run_id}")

    return mesh_failure_routing
