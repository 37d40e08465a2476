"""Who decides a subscription request: the access rules.

For each request nobody has routed yet:
- the product does not exist, or is not published, or the policy hides it from the consumer:
  denied by the policy;
- the product carries no sensitive tag: approved automatically;
- it carries a tag of central approval (`contains_pii`, ...): the platform team decides;
- otherwise the producer decides (or the platform team, when it answers for the producer's
  access: `answers_for.access: platform`).

The command that files a request (`mesh validate`, `mesh subscribe`, the web form, the
builder) applies them at once (`decide_now`, audited as decided by `POLICY_ACTOR`): a request
the policy approves is approved before the command returns, and one a person decides is routed
to them. The approval sensor (`ops/approvals.py`) applies them on every tick to what is left
(requests filed while a product's spec did not load) and notifies the decisions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from mesh_platform.access.answers import answering
from mesh_platform.access.declared import MeshProducts
from mesh_platform.access.policy import AccessPolicy, access_policy, product_tags
from mesh_platform.access.states import REQUESTED
from mesh_platform.access.subscriptions import (
    Transition,
    approve,
    deny,
    request_subscription,
    route_request,
    subscription,
    subscriptions,
)
from mesh_platform.security.pii import CONTAINS_PII, PII
from mesh_platform.spec.loading import DomainSource
from mesh_platform.spec.model import ProductSpec

if TYPE_CHECKING:
    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.db import Catalog

Route = Literal["auto", "policy", "producer", "platform"]
# Who a decision made by the rules at request time is audited as.
POLICY_ACTOR = "policy:standards/access_policy.yaml"
# Without an access policy naming them, the tags the platform team decides centrally.
CENTRAL_TAGS = frozenset({PII, CONTAINS_PII, "secret", "sensitivity=restricted"})
# Sensitive tags the policy does not name, whose subscriptions the producer decides.
PRODUCER_TAGS = frozenset({"sensitivity=confidential"})


class MeshSpecsView(MeshProducts, Protocol):
    """What the rules read of a mesh: its products' specs and its domains."""

    @property
    def domains(self) -> Mapping[str, DomainSource]: ...


@dataclass(frozen=True, kw_only=True)
class AccessRules:
    """What routing applies: sensitive tags (a person decides), tags of central approval
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


def carried_tags(spec: ProductSpec) -> set[str]:
    """Every tag a product carries for routing: its product tags (`product_tags`: `key=value`,
    `contains_pii`) and its columns' own tags."""
    columns = {column.name: tuple(column.tags) for column in spec.columns}
    return set(product_tags(columns, spec.tags)) | {t for tags in columns.values() for t in tags}


def route_of(request: Subscription, mesh: MeshSpecsView, rules: AccessRules) -> tuple[Route, str]:
    """Who decides `request` (`auto`, `policy`, `producer`, `platform`), and why."""
    domains = {name: source.spec for name, source in mesh.domains.items()}
    producer, _, name = request.product.partition(".")
    source = mesh.products.get((producer, name))
    if source is None:
        return "policy", f"there is no product {request.product}"
    if source.spec.visibility != "published":
        return "policy", f"{request.product} is not published: other domains cannot read it"
    tags = carried_tags(source.spec)
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


def route_one(
    catalog: Catalog, request: Subscription, mesh: MeshSpecsView, rules: AccessRules, *, actor: str
) -> Route | None:
    """Route (or decide) pending request `request` once, as `actor`; its route when this call
    recorded it (None: decided or routed already)."""
    route, reason = route_of(request, mesh, rules)
    if route == "auto":
        changed = approve(catalog, request.id, actor=actor, reason=reason, route=route).changed
    elif route == "policy":
        changed = deny(catalog, request.id, actor=actor, reason=reason, route=route).changed
    else:
        changed = route_request(
            catalog, request.id, request.round, route, actor=actor, reason=reason
        ).changed
    return route if changed else None


def decide_now(
    catalog: Catalog,
    requests: Iterable[Subscription],
    mesh: MeshSpecsView,
    rules: AccessRules | None = None,
) -> list[Subscription]:
    """Apply the rules at once to each of `requests` still pending and unrouted (audited as
    `POLICY_ACTOR`): approved when the policy allows, else routed to whoever decides. A request
    whose product or consumer is not in `mesh` (its spec does not load now) is left to the
    approval sensor. The requests as they are now, in order."""
    rules = rules or policy_rules()
    now = []
    for request in requests:
        known = tuple(request.product.partition(".")[::2]) in mesh.products
        known = known and request.consumer in mesh.domains
        if request.state == REQUESTED and request.route is None and known:
            route_one(catalog, request, mesh, rules, actor=POLICY_ACTOR)
            request = subscription(catalog, request.id)
        now.append(request)
    return now


def request_and_decide(
    catalog: Catalog,
    mesh: MeshSpecsView,
    consumer: str,
    product: str,
    *,
    actor: str,
    purpose: str = "",
    columns: Sequence[str] = (),
) -> Transition:
    """File (or update) `consumer`'s request for `product` (`request_subscription`), then
    decide it at once when the rules allow (`decide_now`)."""
    done = request_subscription(
        catalog, consumer, product, actor=actor, purpose=purpose, columns=columns
    )
    (row,) = decide_now(catalog, [done.subscription], mesh)
    return Transition(row, done.changed or row.state != done.subscription.state)


def route_requests(
    catalog: Catalog,
    mesh: MeshSpecsView,
    rules: AccessRules | None = None,
    *,
    actor: str,
    unreadable: Collection[str] = (),
) -> list[tuple[int, Route]]:
    """Route (or decide) every unrouted request once, by `rules` (default: the access
    policy's), as `actor`; `(id, route)` of those this call did.

    `unreadable`: products (`domain.product`) and domains whose specs do not load now; their
    requests stay unrouted until they do, rather than being denied as unknown.
    """
    rules = rules or policy_rules()
    done = []
    for request in subscriptions(catalog, state=REQUESTED, unrouted=True):
        if {request.product, request.product.partition(".")[0]} & set(unreadable):
            continue
        route = route_one(catalog, request, mesh, rules, actor=actor)
        if route is not None:
            done.append((request.id, route))
    return done
