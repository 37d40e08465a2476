"""Subscription requests and decisions, each transition with its audit entry in one transaction.

Decisions are exactly-once: a transition is one conditional UPDATE (`... WHERE state =
'requested'`), and only the statement that changed the row (rowcount 1) writes the audit entry
and reports `changed`. Two approvers at once, or a sensor replay, find the row already decided:
the same decision again is a no-op, a different one is refused with who decided what.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mesh_platform.access.states import APPROVED, DENIED, REQUESTED, REVOKED, STATES
from mesh_platform.errors import BusinessLogicError, MeshError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.db import Catalog

# SQLAlchemy and the table load when a function runs, not when the package is imported (the
# planner imports the access policy beside this module when a code location loads).


class SubscriptionError(MeshError):
    """A subscription command that cannot be done as asked; the message says why and what to do."""


class SubscriptionRequired(BusinessLogicError):
    """A product reads another domain's product without an approved subscription."""

    def __init__(self, consumer: str, product: str, state: str | None, ident: int | None) -> None:
        self.consumer = consumer
        self.product = product
        self.state = state
        where = (
            "no subscription"
            if state is None
            else f"subscription {ident} is {state}"
            + (" (waiting for a decision)" if state == REQUESTED else "")
        )
        fix = (
            f"wait for the decision (`mesh audit --subscription {ident}`), or ask "
            f"{product.partition('.')[0]} to `mesh approve {ident} --by ... --reason ...`"
            if state == REQUESTED
            else f'mesh subscribe {product} --as {consumer} --purpose "what you use it for"'
        )
        self.refused_fix = fix  # the run's failure guidance (run/failures.py)
        super().__init__(
            f"{consumer} may not read {product}: {where}; nothing was read.\n  fix: {fix}"
        )


@dataclass(frozen=True)
class Transition:
    """What a request or decision did: the row as it is now, and whether this call changed it."""

    subscription: Subscription
    changed: bool


def qualified(product: str) -> tuple[str, str]:
    """`domain.product` split, or a `SubscriptionError` saying how products are named."""
    domain, _, name = product.partition(".")
    if not domain or not name:
        raise SubscriptionError(
            f"{product!r} is not a product name; write DOMAIN.PRODUCT, e.g. sales.orders "
            "(`mesh list` shows them)"
        )
    return domain, name


def _audit(session: Session, row: Subscription, action: str, actor: str, reason: str) -> None:
    from mesh_platform.catalog.audit import record_audit

    details: dict[str, Any] = {
        "consumer": row.consumer,
        "product": row.product,
        "round": row.round,
        "state": row.state,
        "route": row.route,
    }
    record_audit(
        session, actor=actor, action=action, subject=row.subject, reason=reason, details=details
    )


def _row(session: Session, consumer: str, product: str) -> Subscription | None:
    from sqlalchemy import select

    from mesh_platform.access.models import Subscription

    return session.scalars(
        select(Subscription).where(
            Subscription.consumer == consumer, Subscription.product == product
        )
    ).first()


def request_subscription(
    catalog: Catalog,
    consumer: str,
    product: str,
    *,
    actor: str,
    purpose: str = "",
    columns: Sequence[str] = (),
) -> Transition:
    """Ask for `consumer`'s access to `product` (`domain.product`).

    A pending or approved subscription keeps its state, its purpose and columns updated when
    `purpose` or `columns` differ (audited as `updated`; `changed` True); a denied or revoked one
    is requested again (a new round, routed again), and so is an approved one scoped to columns
    when `columns` asks for more (a wider scope is decided).
    """
    from sqlalchemy.exc import IntegrityError

    producer, _ = qualified(product)
    if producer == consumer:
        raise SubscriptionError(
            f"{consumer} owns {product}: a domain reads its own products without a subscription"
        )
    for attempt in range(2):
        try:
            with catalog.session() as session:
                row = _row(session, consumer, product)
                if row is None:
                    return _first_request(
                        session, consumer, product, producer, actor, purpose, columns
                    )
                if row.state in (REQUESTED, APPROVED) and not _widens(row, columns):
                    return _update_request(session, row, actor, purpose, columns)
                return _request_again(session, row, actor, purpose, columns)
        except IntegrityError:
            if attempt:  # a concurrent request inserted the row: read it the second time
                raise
    raise AssertionError("unreachable")


def _first_request(
    session: Session,
    consumer: str,
    product: str,
    producer: str,
    actor: str,
    purpose: str,
    columns: Sequence[str],
) -> Transition:
    """Insert `consumer`'s first request for `product` (round 1), with its audit entry."""
    from mesh_platform.access.models import Subscription

    row = Subscription(
        consumer=consumer,
        product=product,
        producer=producer,
        purpose=purpose,
        columns=json.dumps(list(columns)),
        state=REQUESTED,
        round=1,
        requested_by=actor,
        reason="",
    )
    session.add(row)
    session.flush()
    _audit(session, row, "requested", actor, purpose)
    return Transition(row, True)


def _update_request(
    session: Session, row: Subscription, actor: str, purpose: str, columns: Sequence[str]
) -> Transition:
    """Update a pending or approved request's purpose and columns (an approved one may only
    narrow them: `_widens` asks again), with an `updated` audit entry; unchanged if the same."""
    changes = []
    if purpose and purpose != row.purpose:
        changes.append(f"purpose: {row.purpose!r} -> {purpose!r}")
        row.purpose = purpose
    if columns and list(columns) != list(scoped_columns(row)):
        changes.append(f"columns: {list(scoped_columns(row))} -> {list(columns)}")
        row.columns = json.dumps(list(columns))
    if not changes:
        return Transition(row, False)
    session.flush()
    _audit(session, row, "updated", actor, "; ".join(changes))
    return Transition(row, True)


def _request_again(
    session: Session, row: Subscription, actor: str, purpose: str, columns: Sequence[str]
) -> Transition:
    """Request a denied or revoked subscription again (the next round), exactly once: the
    audit entry only when this call changed the row."""
    from sqlalchemy import update

    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.models import utcnow

    changed = session.execute(
        update(Subscription)
        .where(Subscription.id == row.id, Subscription.state == row.state)
        .values(
            state=REQUESTED,
            route=None,
            round=Subscription.round + 1,
            purpose=purpose or row.purpose,
            columns=json.dumps(list(columns)) if columns else row.columns,
            requested_by=actor,
            requested_at=utcnow(),
            decided_by=None,
            decided_at=None,
            reason="",
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if _rowcount(changed) == 1:
        _audit(session, row, "requested", actor, purpose)
    return Transition(row, _rowcount(changed) == 1)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _transition(
    catalog: Catalog,
    ident: int,
    *,
    source: str,
    target: str,
    actor: str,
    reason: str,
    route: str | None = None,
) -> Transition:
    """Move subscription `ident` from `source` to `target` exactly once."""
    from sqlalchemy import update

    from mesh_platform.access.models import Subscription
    from mesh_platform.catalog.models import utcnow

    if not reason.strip():
        raise SubscriptionError(f"say why: --reason is required to make it {target}")
    with catalog.session() as session:
        values: dict[str, Any] = {
            "state": target,
            "decided_by": actor,
            "decided_at": utcnow(),
            "reason": reason,
        }
        if route is not None:
            values["route"] = route
        result = session.execute(
            update(Subscription)
            .where(Subscription.id == ident, Subscription.state == source)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        row = session.get(Subscription, ident, populate_existing=True)
        if row is None:
            raise SubscriptionError(
                f"no subscription {ident}; `mesh audit` or `mesh subscriptions` lists them"
            )
        if _rowcount(result) == 1:
            _audit(session, row, target, actor, reason)
            return Transition(row, True)
    if row.state == target:
        return Transition(row, False)  # decided so already (a replay, a second approver)
    raise SubscriptionError(
        f"subscription {ident} ({row.consumer} -> {row.product}) is {row.state}"
        + (f" (by {row.decided_by}: {row.reason})" if row.decided_by else "")
        + f", not {source}: it cannot be made {target}"
        + ("; the consumer may request it again (`mesh subscribe`)" if row.state == DENIED else "")
    )


def approve(
    catalog: Catalog, ident: int, *, actor: str, reason: str, route: str | None = None
) -> Transition:
    """Approve a pending request (once: a second approval changes nothing)."""
    return _transition(
        catalog, ident, source=REQUESTED, target=APPROVED, actor=actor, reason=reason, route=route
    )


def deny(
    catalog: Catalog, ident: int, *, actor: str, reason: str, route: str | None = None
) -> Transition:
    """Deny a pending request (once)."""
    return _transition(
        catalog, ident, source=REQUESTED, target=DENIED, actor=actor, reason=reason, route=route
    )


def revoke(catalog: Catalog, ident: int, *, actor: str, reason: str) -> Transition:
    """Withdraw an approved subscription (once): the consumer's next run is refused."""
    return _transition(catalog, ident, source=APPROVED, target=REVOKED, actor=actor, reason=reason)


def route_request(
    catalog: Catalog, ident: int, round_: int, route: str, *, actor: str, reason: str
) -> Transition:
    """Record who decides pending request `ident` (round `round_`), once."""
    from sqlalchemy import update

    from mesh_platform.access.models import Subscription

    with catalog.session() as session:
        result = session.execute(
            update(Subscription)
            .where(
                Subscription.id == ident,
                Subscription.state == REQUESTED,
                Subscription.round == round_,
                Subscription.route.is_(None),
            )
            .values(route=route)
            .execution_options(synchronize_session=False)
        )
        row = session.get(Subscription, ident, populate_existing=True)
        if row is None:
            raise SubscriptionError(f"no subscription {ident}")
        if _rowcount(result) == 1:
            _audit(session, row, "routed", actor, reason)
            return Transition(row, True)
        return Transition(row, False)


def subscription(catalog: Catalog, ident: int) -> Subscription:
    """One subscription by id."""
    from mesh_platform.access.models import Subscription

    with catalog.session() as session:
        row = session.get(Subscription, ident)
    if row is None:
        raise SubscriptionError(f"no subscription {ident}; `mesh subscriptions` lists them")
    return row


def subscriptions(
    catalog: Catalog,
    *,
    state: str | None = None,
    consumer: str | None = None,
    producer: str | None = None,
    unrouted: bool = False,
) -> list[Subscription]:
    """Subscriptions by id, filtered."""
    from sqlalchemy import select

    from mesh_platform.access.models import Subscription

    if state is not None and state not in STATES:
        raise SubscriptionError(f"state {state!r}: one of {', '.join(STATES)}")
    query = select(Subscription).order_by(Subscription.id)
    if state is not None:
        query = query.where(Subscription.state == state)
    if consumer is not None:
        query = query.where(Subscription.consumer == consumer)
    if producer is not None:
        query = query.where(Subscription.producer == producer)
    if unrouted:
        query = query.where(Subscription.route.is_(None))
    with catalog.session() as session:
        return list(session.scalars(query).all())


def access_state(catalog: Catalog, consumer: str, product: str) -> Subscription | None:
    """The subscription of `consumer` to `product`, if any."""
    with catalog.session() as session:
        return _row(session, consumer, product)


def require_subscription(catalog: Catalog, consumer: str, product: str) -> Subscription | None:
    """Raise `SubscriptionRequired` unless `consumer` may read `product` (its own domain's, or
    an approved subscription); the approved subscription (None for its own domain's)."""
    if product.partition(".")[0] == consumer:
        return None
    row = access_state(catalog, consumer, product)
    if row is None or row.state != APPROVED:
        raise SubscriptionRequired(
            consumer, product, None if row is None else row.state, None if row is None else row.id
        )
    return row


def scoped_columns(row: Subscription) -> tuple[str, ...]:
    """The columns a subscription is scoped to (none: the whole product)."""
    return tuple(json.loads(row.columns or "[]"))


def _widens(row: Subscription, columns: Sequence[str]) -> bool:
    """Whether `columns` asks for more than approved subscription `row`'s scope."""
    scope = scoped_columns(row)
    return row.state == APPROVED and bool(scope) and bool(set(columns) - set(scope))
