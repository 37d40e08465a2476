"""The marketplace's subscribe-and-access commands: subscribe, subscriptions, approve, deny,
revoke, audit, domains."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from mesh_platform.cli.app import emit, main, mesh_root
from mesh_platform.cli.identity import BY_HELP, requester

if TYPE_CHECKING:
    from mesh_platform.access import Subscription, Transition
    from mesh_platform.catalog import Catalog


def _catalog() -> Catalog:
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    return Catalog.open(environment.catalog_url())


def _as_dict(row: Subscription) -> dict[str, Any]:
    return {
        "id": row.id,
        "consumer": row.consumer,
        "product": row.product,
        "state": row.state,
        "route": row.route,
        "round": row.round,
        "purpose": row.purpose,
        "columns": json.loads(row.columns),
        "requested_by": row.requested_by,
        "requested_at": row.requested_at,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "reason": row.reason,
    }


def _line(row: Subscription) -> str:
    decided = f" by {row.decided_by}: {row.reason}" if row.decided_by else ""
    waiting = f" (decided by: {row.route})" if row.state == "requested" and row.route else ""
    return f"{row.id:>4}  {row.consumer} -> {row.product}  {row.state}{waiting}{decided}"


@main.command()
@click.argument("product")
@click.option("--as", "consumer", required=True, help="The consumer domain (DOMAIN).")
@click.option("--purpose", required=True, help="What the consumer uses the product for.")
@click.option("--columns", default="", help="The columns it uses, comma-separated (optional).")
@click.option("--by", "actor", help="Who asks (recorded in the audit log) [default: CONSUMER].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def subscribe(
    product: str, consumer: str, purpose: str, columns: str, actor: str | None, as_json: bool
) -> None:
    """Request CONSUMER's access to PRODUCT (DOMAIN.PRODUCT) of another domain.

    Decided at once by the access policy: approved when the product has no sensitive tags,
    else routed to the producer or the platform team (`mesh approve`). On an existing request,
    updates its purpose and columns (audited).
    """
    from mesh_platform.access.routing import request_and_decide
    from mesh_platform.loader.mesh import MeshSpecs

    specs = MeshSpecs.load(mesh_root())
    if consumer not in specs.domains:
        raise click.ClickException(
            f"no domain {consumer!r}; domains: {', '.join(sorted(specs.domains))}"
        )
    try:
        specs.product(product)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    wanted = tuple(c.strip() for c in columns.split(",") if c.strip())
    done = request_and_decide(
        _catalog(),
        specs,
        consumer,
        product,
        actor=actor or requester(consumer),
        purpose=purpose,
        columns=wanted,
    )
    row = done.subscription
    what = "changed" if done.changed else "unchanged"
    from mesh_platform.access.enforcement import access_block

    shown = _line(row).strip() + f" ({what})"
    if row.state != "approved":
        shown += "\n" + access_block(row, consumer, product)
    emit(as_json, _as_dict(row), f"subscription {shown}")


@main.command(name="subscriptions")
@click.option(
    "--state", type=click.Choice(["requested", "approved", "denied", "revoked"]), help="Only these."
)
@click.option("--consumer", help="Only this consumer domain's.")
@click.option("--producer", help="Only subscriptions to this domain's products.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def subscriptions_command(
    state: str | None, consumer: str | None, producer: str | None, as_json: bool
) -> None:
    """Subscriptions and their state: who reads which product of another domain."""
    from mesh_platform.access import subscriptions

    rows = subscriptions(_catalog(), state=state, consumer=consumer, producer=producer)
    emit(
        as_json,
        [_as_dict(r) for r in rows],
        "\n".join(_line(r) for r in rows) or "no subscriptions",
    )


def _decided(done: Transition, verb: str, as_json: bool) -> None:
    row = done.subscription
    note = "" if done.changed else f" (already {row.state}: nothing changed)"
    emit(as_json, _as_dict(row), f"subscription {row.id}: {verb}{note}\n{_line(row)}")


def _decision_options(command: Any) -> Any:
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)
    command = click.option("--reason", required=True, help="Why (recorded in the audit log).")(
        command
    )
    command = click.option("--by", "actor", help=BY_HELP)(command)
    return click.argument("ident", metavar="ID", type=int)(command)


def _decide(decision: str, ident: int, by: str | None, reason: str) -> Transition:
    """`decision` on subscription `ident` by the person running the command, once they are
    checked: of the team that decides it, and not its requester (`access/identity.py`)."""
    from mesh_platform import access
    from mesh_platform.access.identity import check_subscription_decision
    from mesh_platform.cli.identity import decider, mesh_domains

    person = decider(by)
    catalog = _catalog()
    if person.people is not None:
        row = access.subscription(catalog, ident)
        check_subscription_decision(person, row, decision, mesh_domains())
    act = getattr(access, decision)
    return act(catalog, ident, actor=person.email, reason=reason)  # type: ignore[no-any-return]


@main.command()
@_decision_options
def approve(ident: int, actor: str | None, reason: str, as_json: bool) -> None:
    """Approve pending subscription ID: the consumer's runs may read the product. Only a
    member of the team the request is routed to (governance/people.yaml), not its requester."""
    _decided(_decide("approve", ident, actor, reason), "approved", as_json)


@main.command()
@_decision_options
def deny(ident: int, actor: str | None, reason: str, as_json: bool) -> None:
    """Deny pending subscription ID (the consumer may ask again); as `approve`, by the team
    the request is routed to."""
    _decided(_decide("deny", ident, actor, reason), "denied", as_json)


@main.command()
@_decision_options
def revoke(ident: int, actor: str | None, reason: str, as_json: bool) -> None:
    """Revoke approved subscription ID: the consumer's next run reading the product fails.
    By the team that decides it, or the platform team."""
    _decided(_decide("revoke", ident, actor, reason), "revoked", as_json)


@main.command()
@click.option("--subscription", "ident", type=int, help="Only this subscription's history.")
@click.option("--subject", help="Only this subject (e.g. product:sales.orders).")
@click.option("--limit", type=int, default=200, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit(ident: int | None, subject: str | None, limit: int, as_json: bool) -> None:
    """The append-only audit log: who did what, when and why, oldest first."""
    from mesh_platform.catalog import audit_entries

    catalog = _catalog()
    with catalog.session() as session:
        entries = audit_entries(
            session, subject=f"subscription:{ident}" if ident is not None else subject
        )
        rows = [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "reason": e.reason,
                "details": json.loads(e.details),
            }
            for e in entries
        ][-limit:]
    human = "\n".join(
        f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['subject']}  {r['action']} by {r['actor']}"
        + (f": {r['reason']}" if r["reason"] else "")
        for r in rows
    )
    emit(as_json, rows, human or "no audit entries")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def domains(as_json: bool) -> None:
    """Who answers for each domain's operations (failures), access decisions and budget: the
    domain itself or the platform team as its proxy (`answers_for:` in domain.yaml)."""
    from dataclasses import asdict

    from mesh_platform.access.answers import answers_matrix
    from mesh_platform.cost.budgets import budget_standard
    from mesh_platform.loader.mesh import MeshSpecs

    specs = MeshSpecs.load(mesh_root())
    standard = budget_standard()
    rows = answers_matrix(
        {name: source.spec for name, source in specs.domains.items()},
        budget_by_platform={
            d for d in specs.domains if standard and standard.platform_answers_for(d)
        },
    )
    header = ("domain", "operations", "access", "budget", "clearances")
    table = [header] + [
        (r.domain, r.operations, r.access, r.budget, ", ".join(r.clearances) or "-") for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    human = "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
    emit(as_json, [asdict(r) for r in rows], human)
