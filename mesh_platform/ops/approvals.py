"""The approval sensor: routes each new subscription request, and notifies every decision.

For each request nobody has routed yet, the access rules decide:
- the product does not exist, or is not published, or the policy hides it from the consumer:
  denied by the policy;
- the product carries no sensitive tag: approved automatically;
- it carries a tag of central approval (`contains_pii`, ...): the platform team decides;
- otherwise the producer decides (or the platform team, when it answers for the producer's
  access: `answers_for.access: platform`).

Notifications follow the audit log: every subscription transition (by this sensor, `mesh
approve`, the web catalog) is one audit entry, and `notify_transitions` turns each into the
messages of that transition, keyed by (subscription, round, transition, audience). A replay
(the sensor's cursor lost, a second process, the CLI and the sensor both notifying) finds the
keys in the outbox and sends nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from mesh_platform.access import (
    REQUESTED,
    Subscription,
    apply_approvals_file,
    approve,
    deny,
    request_declared,
    route_request,
    subscriptions,
)
from mesh_platform.access.answers import PLATFORM_DOMAIN, answering
from mesh_platform.access.policy import AccessPolicy, access_policy
from mesh_platform.access.seeding import FILE_ACTOR
from mesh_platform.catalog import Catalog, audit_entries
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.notify.messages import AlertKind
from mesh_platform.ops.routing import recipients
from mesh_platform.security.pii import CONTAINS_PII, PII
from mesh_platform.spec.model import DomainSpec, ProductSpec

SENSOR_NAME = "mesh_subscription_approvals"
ACTOR = f"sensor:{SENSOR_NAME}"
# Without an access policy naming them, the tags the platform team decides centrally.
CENTRAL_TAGS = frozenset({PII, CONTAINS_PII, "secret", "sensitivity=restricted"})
# Sensitive tags the policy does not name, whose subscriptions the producer decides.
PRODUCER_TAGS = frozenset({"sensitivity=confidential"})
# notify/messages.py's AlertKind names the operational kinds; the column holds any kind.
SUBSCRIPTION_KIND: AlertKind = "subscription"


@dataclass(frozen=True)
class AccessRules:
    """What the sensor applies: sensitive tags (a person decides), tags of central approval
    (the platform team decides), and product tags refused to every consumer without one of
    the listed clearances."""

    sensitive: frozenset[str] = CENTRAL_TAGS | PRODUCER_TAGS
    central: frozenset[str] = CENTRAL_TAGS
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)  # tag -> clearances


def policy_rules(policy: AccessPolicy | None = None) -> AccessRules:
    """The rules of the access policy (default: the one in effect): every tag it names is
    sensitive, its `central_approval` tags go to the platform team, its `hidden` product rules
    deny; `PRODUCER_TAGS` are sensitive too."""
    policy = policy or access_policy()
    named = {rule.tag for rule in (*policy.columns, *policy.products)}
    central = frozenset(policy.central_approval) or CENTRAL_TAGS
    return AccessRules(
        sensitive=frozenset(named) | central | PRODUCER_TAGS,
        central=central,
        hidden={
            rule.tag: frozenset(rule.clear_for)
            for rule in policy.products
            if rule.others == "hidden"
        },
    )


def product_tags(spec: ProductSpec) -> set[str]:
    """A product's tags for the rules: its columns' tags, `contains_pii`, and `key=value`."""
    tags = {tag for column in spec.columns for tag in column.tags}
    if PII in tags:
        tags.add(CONTAINS_PII)
    return tags | {f"{k}={v}" for k, v in spec.tags.items()}


def route_of(request: Subscription, mesh: MeshSpecs, rules: AccessRules) -> tuple[str, str]:
    """Who decides `request` (`auto`, `policy`, `producer`, `platform`), and why."""
    domains = {name: source.spec for name, source in mesh.domains.items()}
    producer, _, name = request.product.partition(".")
    source = mesh.products.get((producer, name))
    if source is None:
        return "policy", f"there is no product {request.product}"
    if source.spec.visibility != "published":
        return "policy", f"{request.product} is not published: other domains cannot read it"
    tags = product_tags(source.spec)
    clearances = set(domains[request.consumer].clearances) if request.consumer in domains else set()
    for tag in sorted(tags & set(rules.hidden)):
        if not clearances & rules.hidden[tag]:
            return "policy", f"the access policy hides products tagged {tag!r} from it"
    central = sorted(tags & rules.central)
    if central:
        return "platform", f"tagged {', '.join(central)}: the platform team approves centrally"
    sensitive = sorted(tags & rules.sensitive)
    if not sensitive:
        return "auto", "no sensitive tags: approved automatically"
    if answering(producer, "access", domains).name != producer:
        return "platform", f"tagged {', '.join(sensitive)}; the platform answers for {producer}"
    return "producer", f"tagged {', '.join(sensitive)}: the producer decides"


def route_requests(
    catalog: Catalog, mesh: MeshSpecs, rules: AccessRules | None = None
) -> list[tuple[int, str]]:
    """Route (or decide) every unrouted request once, by `rules` (default: the access
    policy's); `(id, route)` of those this call did."""
    rules = rules or policy_rules()
    done = []
    for request in subscriptions(catalog, state=REQUESTED, unrouted=True):
        route, reason = route_of(request, mesh, rules)
        if route == "auto":
            changed = approve(catalog, request.id, actor=ACTOR, reason=reason, route=route).changed
        elif route == "policy":
            changed = deny(catalog, request.id, actor=ACTOR, reason=reason, route=route).changed
        else:
            changed = route_request(
                catalog, request.id, request.round, route, actor=ACTOR, reason=reason
            ).changed
        if changed:
            done.append((request.id, route))
    return done


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
    consumer, product = str(details.get("consumer")), str(details.get("product"))
    producer = product.partition(".")[0]
    ident = subject.partition(":")[2]
    key = f"{subject}:{details.get('round')}:{entry_action}"
    who = f"{consumer} -> {product}"

    def draft(audience_domain: str, title: str, body: str, decides: bool = False) -> AlertDraft:
        # A decision goes to whoever answers for the domain's access; a notice to the domain.
        target = (
            answering(audience_domain, "access", domains)
            if decides
            else domains.get(
                audience_domain, DomainSpec(name=audience_domain, team=audience_domain)
            )
        )
        return AlertDraft(
            dedupe_key=f"{key}:{audience_domain}",
            kind=SUBSCRIPTION_KIND,
            audience="platform" if target.name == PLATFORM_DOMAIN else "domain",
            domain=audience_domain,
            title=title,
            body=body,
            severity="low",
            recipients=recipients(target),
            # No product: a notice, not an open alert counted against the product (`mesh status`).
            product=None,
        )

    if entry_action == "routed":
        decider = PLATFORM_DOMAIN if details.get("route") == "platform" else producer
        return [
            draft(
                decider,
                f"Subscription {ident}: {consumer} asks to read {product}",
                f"{who} waits for your decision ({reason}).\n"
                f"Approve: mesh approve {ident} --by YOU --reason ...\n"
                f"Deny: mesh deny {ident} --by YOU --reason ...",
                decides=True,
            )
        ]
    if entry_action == "approved":
        return [
            draft(
                producer,
                f"New consumer of {product}: {consumer}",
                f"{consumer} now reads {product} (subscription {ident}, approved by {actor}: "
                f"{reason}). Breaking changes to its contract now affect {consumer}.",
            ),
            draft(
                consumer,
                f"Subscription {ident} approved: {consumer} may read {product}",
                f"Approved by {actor}: {reason}",
            ),
        ]
    if entry_action in ("denied", "revoked"):
        return [
            draft(
                consumer,
                f"Subscription {ident} {entry_action}: {consumer} may not read {product}",
                f"{entry_action.capitalize()} by {actor}: {reason}\nRuns of {consumer} reading "
                f"{product} are refused. To ask again: mesh subscribe {product} --as {consumer} "
                '--purpose "..."',
            )
        ]
    return []


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


def approvals_tick(
    notifier: Notifier, mesh: MeshSpecs, cursor: int = 0, rules: AccessRules | None = None
) -> tuple[int, str]:
    """One evaluation: the platform team's approvals file, then a request for each declared
    cross-domain read without a subscription, the routing of new requests, the notifications
    of every transition since `cursor`."""
    catalog = notifier.catalog()
    apply_approvals_file(catalog, mesh.root)
    pending = request_declared(catalog, mesh, actor=ACTOR)
    routed = route_requests(catalog, mesh, rules)
    last, published = notify_transitions(catalog, notifier, mesh, cursor)
    return last, (
        f"{len(routed)} request(s) routed or decided, {len(pending)} declared read(s) waiting, "
        f"{published} notification(s) sent"
    )


def build_approval_sensor(mesh_root: Path | None = None) -> dg.SensorDefinition:
    """The approval sensor of the platform's code location."""

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Routes each new subscription request by the access policy (auto-approve, "
        "the producer, the platform team, or deny) and notifies producers of new consumers "
        "and consumers of decisions, once each.",
    )
    def mesh_subscription_approvals(
        context: dg.SensorEvaluationContext, notifier: Notifier
    ) -> dg.SkipReason:
        """Route and notify (a catalog outage fails the tick; the cursor stays)."""
        cursor = int(context.cursor or 0)
        last, summary = approvals_tick(notifier, MeshSpecs.load(mesh_root), cursor)
        context.update_cursor(str(last))
        return dg.SkipReason(summary)

    return mesh_subscription_approvals
