"""The approval sensor: routes each new subscription request, and notifies every decision.

The rules deciding who decides a request (the policy, automatically, the producer or the
platform team) are the access rules of `access/routing.py`; this sensor applies them on every
tick to the requests nobody has routed yet.

Notifications follow the audit log: every subscription transition (by this sensor, `mesh
approve`, the web catalog) is one audit entry, and `notify_transitions` turns each into the
messages of that transition, keyed by (subscription, round, transition, audience). A replay
(the sensor's cursor lost, a second process, the CLI and the sensor both notifying) finds the
keys in the outbox and sends nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dagster as dg

from mesh_platform.access import apply_approvals_file, request_declared
from mesh_platform.access.answers import PLATFORM_DOMAIN, answering
from mesh_platform.access.routing import AccessRules, route_requests
from mesh_platform.access.seeding import FILE_ACTOR
from mesh_platform.catalog import Catalog, audit_entries
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.loader.mesh import Mesh, MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.notify.messages import AlertKind
from mesh_platform.ops.routing import recipients
from mesh_platform.spec.model import DomainSpec

SENSOR_NAME = "mesh_subscription_approvals"
ACTOR = f"sensor:{SENSOR_NAME}"
# notify/messages.py's AlertKind names the operational kinds; the column holds any kind.
SUBSCRIPTION_KIND: AlertKind = "subscription"


@dataclass(frozen=True, kw_only=True)
class TransitionMessage:
    """One message of a transition: to which domain, what it says, and whether that domain
    decides (then whoever answers for its access gets it)."""

    audience: str
    title: str
    body: str
    decides: bool = False


def transition_drafts(
    entry_action: str,
    details: Mapping[str, object],
    subject: str,
    reason: str,
    actor: str,
    domains: Mapping[str, DomainSpec],
) -> list[AlertDraft]:
    """The messages of one audited transition of a subscription (none for the approvals file's:
    the platform team's reviewed file is the notice, and a fresh home would repeat it)."""
    if actor == FILE_ACTOR:
        return []
    key = f"{subject}:{details.get('round')}:{entry_action}"
    messages = transition_messages(entry_action, details, subject.partition(":")[2], reason, actor)
    return [_draft(f"{key}:{m.audience}", m, domains) for m in messages]


def transition_messages(
    entry_action: str, details: Mapping[str, object], ident: str, reason: str, actor: str
) -> list[TransitionMessage]:
    """What a transition tells whom: the decider of a routed request; the producer and the
    consumer of an approval; the consumer of a denial or revocation."""
    consumer, product = str(details.get("consumer")), str(details.get("product"))
    producer = product.partition(".")[0]
    if entry_action == "routed":
        return [
            TransitionMessage(
                audience=PLATFORM_DOMAIN if details.get("route") == "platform" else producer,
                title=f"Subscription {ident}: {consumer} asks to read {product}",
                body=f"{consumer} -> {product} waits for your decision ({reason}).\n"
                f"Approve: mesh approve {ident} --by YOU --reason ...\n"
                f"Deny: mesh deny {ident} --by YOU --reason ...",
                decides=True,
            )
        ]
    if entry_action == "approved":
        return [
            TransitionMessage(
                audience=producer,
                title=f"New consumer of {product}: {consumer}",
                body=f"{consumer} now reads {product} (subscription {ident}, approved by "
                f"{actor}: {reason}). Breaking changes to its contract now affect {consumer}.",
            ),
            TransitionMessage(
                audience=consumer,
                title=f"Subscription {ident} approved: {consumer} may read {product}",
                body=f"Approved by {actor}: {reason}",
            ),
        ]
    if entry_action in ("denied", "revoked"):
        return [
            TransitionMessage(
                audience=consumer,
                title=f"Subscription {ident} {entry_action}: {consumer} may not read {product}",
                body=f"{entry_action.capitalize()} by {actor}: {reason}\nRuns of {consumer} "
                f"reading {product} are refused. To ask again: mesh subscribe {product} --as "
                f'{consumer} --purpose "..."',
            )
        ]
    return []


def _draft(
    dedupe_key: str, message: TransitionMessage, domains: Mapping[str, DomainSpec]
) -> AlertDraft:
    # A decision goes to whoever answers for the domain's access; a notice to the domain.
    audience = message.audience
    target = (
        answering(audience, "access", domains)
        if message.decides
        else domains.get(audience, DomainSpec(name=audience, team=audience))
    )
    return AlertDraft(
        dedupe_key=dedupe_key,
        kind=SUBSCRIPTION_KIND,
        audience="platform" if target.name == PLATFORM_DOMAIN else "domain",
        domain=audience,
        title=message.title,
        body=message.body,
        severity="low",
        recipients=recipients(target),
        # No product: a notice, not an open alert counted against the product (`mesh status`).
        product=None,
    )


def notify_transitions(
    catalog: Catalog, notifier: Notifier, mesh: MeshSpecs, after: int = 0
) -> tuple[int, int]:
    """Publish the messages of every subscription transition audited after entry `after`;
    return the last entry id seen and how many messages were published (replays: none new)."""
    domains = {name: source.spec for name, source in mesh.domains.items()}
    with catalog.session() as session:
        entries = [
            e for e in audit_entries(session, subject_prefix="subscription:") if e.id > after
        ]
    published = 0
    last = after
    for entry in entries:
        for draft in transition_drafts(
            entry.action,
            json.loads(entry.details),
            entry.subject,
            entry.reason,
            entry.actor,
            domains,
        ):
            published += notifier.publish_new(draft)
        last = max(last, entry.id)
    return last, published


def unreadable(mesh: MeshSpecs) -> set[str]:
    """The products (`domain.product`) and whole domains a spec error leaves out of `mesh`
    (a `Mesh`): requests for them wait for the fix instead of being denied as unknown."""
    if not isinstance(mesh, Mesh):
        return set()
    gone = {domain for domain in mesh.broken_domains if domain not in mesh.domains}
    return gone | {".".join(key) for key in mesh.excluded}


def approvals_tick(
    catalog: Catalog,
    notifier: Notifier,
    mesh: MeshSpecs,
    cursor: int = 0,
    rules: AccessRules | None = None,
) -> tuple[int, str]:
    """One evaluation: the platform team's approvals file, then a request for each declared
    cross-domain read without a subscription, the routing of new requests (`access/routing`),
    the notifications of every transition since `cursor`."""
    apply_approvals_file(catalog, mesh.root)
    pending = request_declared(catalog, mesh, actor=ACTOR)
    routed = route_requests(catalog, mesh, rules, actor=ACTOR, unreadable=unreadable(mesh))
    last, published = notify_transitions(catalog, notifier, mesh, cursor)
    return last, (
        f"{len(routed)} request(s) routed or decided, {len(pending)} declared read(s) waiting, "
        f"{published} notification(s) sent"
    )


def build_approval_sensor(mesh: Callable[[], MeshSpecs]) -> dg.SensorDefinition:
    """The approval sensor of the platform's code location; `mesh` gives the mesh of this
    tick (the location's shared `SensorMesh`)."""

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Routes each new subscription request by the access policy (auto-approve, "
        "the producer, the platform team, or deny) and notifies producers of new consumers "
        "and consumers of decisions, once each.",
    )
    def mesh_subscription_approvals(
        context: dg.SensorEvaluationContext, catalog: CatalogResource, notifier: Notifier
    ) -> dg.SkipReason:
        """Route and notify (a catalog outage fails the tick; the cursor stays)."""
        cursor = int(context.cursor or 0)
        last, summary = approvals_tick(catalog.open(), notifier, mesh(), cursor)
        context.update_cursor(str(last))
        return dg.SkipReason(summary)

    return mesh_subscription_approvals
