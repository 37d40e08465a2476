"""Failure routing: every failed step goes to the platform on-call, business logic also to
the owning domain (or to the platform team when it answers for the domain's operations:
`answers_for.operations: platform`), with guidance and a link to the run.

The classification is the pipeline template's (`mesh/failure_class` on the step's
`dg.Failure`); a failure without it is the platform's. Severity and time to recover come from
the domain file, overridden by a product's `severity` / `time_to_recover_hours` tags.

The sensor reads run failures from the instance's event log in storage order and moves its
cursor only past runs whose alerts are durably recorded: a tick that cannot record one (the
catalog is down, locked, read-only) fails with the reason and keeps its cursor, so the next
tick routes that run again (idempotently) and nothing is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from mesh_platform.access.answers import answering
from mesh_platform.errors import PlatformError
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
    tells_platform,
    waits_for_access,
)
from mesh_platform.spec.model import DomainSpec

PLATFORM_DOMAIN = "platform"
SENSOR_NAME = "mesh_failure_routing"
# Failed runs read per tick, and the time a tick may spend routing them: a tick must end well
# within the daemon's sensor timeout (60 s by default); what is left waits for the next tick.
FAILURES_PER_TICK = 50
TICK_BUDGET_SECONDS = 40.0
# With no cursor yet (first start, or a reset), failures of the last day are routed; older ones
# are history. Runs already alerted are found in the catalog and not alerted again.
FIRST_TICK_LOOKBACK_SECONDS = 24 * 3600


class RoutingIncomplete(PlatformError):
    """A failed run's alerts could not be recorded; the sensor routes it again next tick."""


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
    drafts = []
    # An input never built is the consuming domain's to run first; nothing of the platform failed.
    if owner.name == platform.name or tells_platform(facts.failure_class, facts.failed_step):
        drafts.append(
            AlertDraft(
                dedupe_key=f"{base}:platform",
                audience="platform",
                domain=owner.name,
                title=f"[{severity}] {what} failed ({facts.failure_class}) in run {run_id[:8]}",
                recipients=recipients(platform),
                **common,
            )
        )
    if facts.failure_class == BUSINESS_LOGIC and owner.name != platform.name:
        # The domain's own alert goes to whoever answers for its operations.
        domains = {name: source.spec for name, source in mesh.domains.items()}
        domains.setdefault(owner.name, owner)
        answer = answering(owner.name, "operations", domains)
        proxy = answer.name != owner.name
        drafts.append(
            AlertDraft(
                dedupe_key=f"{base}:domain",
                audience="platform" if proxy else "domain",
                domain=owner.name,
                title=(
                    f"[{severity}] {what} ({owner.name}, which the platform team answers for) "
                    "failed; how to fix it inside"
                    if proxy
                    else f"[{severity}] {what}: your product failed; how to fix it inside"
                ),
                recipients=recipients(answer),
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
    # An access wait is not a failure: no alert (the deciders are told by the approval routing).
    facts = [f for f in facts if not waits_for_access(f.failed_step)]
    url = notifier.run_url(run.run_id)
    drafts = [d for f in facts for d in drafts_for_failure(f, run.run_id, url, mesh)]
    for draft in drafts:
        notifier.publish(draft)
    return drafts


def failure_cursor(cursor: str | None) -> int | None:
    """The storage id of the last failure event routed, from the sensor's cursor.

    Also reads the cursor of Dagster's `run_failure_sensor` this sensor replaced (a JSON
    `RunStatusSensorCursor` with its `record_id`), so an upgrade neither repeats nor loses an
    alert. None when there is no usable cursor.
    """
    if not cursor:
        return None
    try:
        value = json.loads(cursor)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("record_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def initial_cursor(instance: dg.DagsterInstance) -> int:
    """Where a sensor without a cursor starts: after the last failure older than a day (0 when
    there is none, so that every later failure counts as new whenever the first tick runs)."""
    older = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            event_type=dg.DagsterEventType.RUN_FAILURE,
            before_timestamp=time.time() - FIRST_TICK_LOOKBACK_SECONDS,
        ),
        limit=1,
        ascending=False,
    ).records
    return older[0].storage_id if older else 0


def new_failures(
    instance: dg.DagsterInstance, after: int, limit: int = FAILURES_PER_TICK
) -> Sequence[dg.EventLogRecord]:
    """Run failure events after the storage id `after`, oldest first (the whole instance)."""
    return instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            event_type=dg.DagsterEventType.RUN_FAILURE, after_storage_id=after
        ),
        limit=limit,
        ascending=True,
    ).records


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    """The step failure events of a run."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    return [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]


def route_new_failures(
    instance: dg.DagsterInstance,
    notifier: Notifier,
    mesh: MeshSpecs,
    after: int,
    budget_seconds: float = TICK_BUDGET_SECONDS,
) -> tuple[int, list[str]]:
    """Route the runs that failed after the cursor `after`, in order.

    Returns the new cursor (the storage id of the last failure whose alerts are recorded) and
    the runs routed. Raises `RoutingIncomplete` at the first run whose alerts cannot be
    recorded: the caller must not keep any cursor past it.
    """
    cursor = after
    routed: list[str] = []
    deadline = time.monotonic() + budget_seconds
    for record in new_failures(instance, after):
        if routed and time.monotonic() > deadline:
            break  # the rest next tick; a tick must end within the daemon's timeout
        run_id = record.event_log_entry.run_id
        run = instance.get_run_by_id(run_id)
        if run is not None:  # a deleted run has nobody left to tell
            try:
                route_run_failure(run, step_failures(instance, run_id), notifier, mesh)
            except Exception as exc:
                raise RoutingIncomplete(
                    f"the alerts of failed run {run_id} could not be recorded: {exc}\n"
                    "  the sensor's cursor stays before this run: the next tick routes it "
                    "again (alerts already recorded are not sent twice)"
                ) from exc
            routed.append(run_id)
        cursor = record.storage_id
    return cursor, routed


def build_failure_sensor(mesh: Callable[[], MeshSpecs]) -> dg.SensorDefinition:
    """The platform's failure-routing sensor, watching every code location; `mesh` gives the
    mesh of this tick (the location's shared `SensorMesh`).

    A plain sensor over the instance's run failures rather than Dagster's
    `run_failure_sensor`, which moves its cursor past a run even when its evaluation failed
    (an alert lost for good when the catalog was down at that tick).
    """

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Routes each failed step: the platform on-call always, the owning domain "
        "too for business-logic failures (with guidance and a link to the run).",
    )
    def mesh_failure_routing(
        context: dg.SensorEvaluationContext, notifier: Notifier
    ) -> dg.SensorResult | dg.SkipReason:
        """Classify each failed step of each newly failed run and notify (once) who must act."""
        after = failure_cursor(context.cursor)
        if after is None:
            after = initial_cursor(context.instance)
        elif not new_failures(context.instance, after, limit=1):
            return dg.SkipReason("no new failed runs")
        # Raises (the tick fails, the cursor stays) when a run's alerts cannot be recorded.
        cursor, routed = route_new_failures(context.instance, notifier, mesh(), after)
        for run_id in routed:
            context.log.info(f"routed the alerts of failed run {run_id}")
        return dg.SensorResult(
            skip_reason=f"routed {len(routed)} failed run(s)", cursor=json.dumps(cursor)
        )

    return mesh_failure_routing
