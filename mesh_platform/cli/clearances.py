"""Clearances: `mesh request-clearance`, `mesh grant-clearance`, `mesh clearances`
(`access/clearances.py`)."""

from __future__ import annotations

from dataclasses import asdict

import click

from mesh_platform.cli.app import emit, main, mesh_root
from mesh_platform.cli.identity import BY_HELP, decider, mesh_domains, requester


def _catalog():  # type: ignore[no-untyped-def]
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    return Catalog.open(environment.catalog_url())


@main.command(name="request-clearance")
@click.argument("domain")
@click.argument("clearance")
@click.option("--reason", required=True, help="What the domain needs it for (audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def request_clearance(domain: str, clearance: str, reason: str, as_json: bool) -> None:
    """Ask the platform team to grant DOMAIN the CLEARANCE (e.g. pii) the access policy reads;
    until granted, DOMAIN reads protected columns masked."""
    from mesh_platform.access.clearances import request_clearance as ask

    done = ask(
        _catalog(), mesh_root(), domain, clearance,
        actor=requester(domain), reason=reason, domains=mesh_domains(),
    )  # fmt: skip
    emit(
        as_json,
        asdict(done),
        f"clearance {clearance} for {domain}: requested by {done.by}\n"
        f"  next: a member of the platform team runs `mesh grant-clearance {domain} "
        f'{clearance} --reason "..."` (`mesh clearances` shows the requests)',
    )


@main.command(name="grant-clearance")
@click.argument("domain")
@click.argument("clearance")
@click.option("--reason", required=True, help="Why it is granted (audit log and the file).")
@click.option("--by", "by", help=BY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def grant_clearance(
    domain: str, clearance: str, reason: str, by: str | None, as_json: bool
) -> None:
    """Grant DOMAIN the CLEARANCE: a member of the platform team (governance/people.yaml), not
    the one who asked. Appends it to governance/clearances.yaml (commit it) and audits it."""
    from mesh_platform.access.clearances import grant_clearance as grant

    done = grant(
        _catalog(), mesh_root(), domain, clearance,
        decider=decider(by), reason=reason, domains=mesh_domains(),
    )  # fmt: skip
    emit(
        as_json,
        asdict(done),
        f"clearance {clearance} granted to {domain} by {done.by} (governance/clearances.yaml; "
        "commit it with the mesh)",
    )


@main.command(name="clearances")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def clearances(as_json: bool) -> None:
    """Each domain's granted clearances (governance/clearances.yaml) and the open requests."""
    from mesh_platform.access.clearances import clearance_requests
    from mesh_platform.spec.governance import read_clearance_grants

    grants = read_clearance_grants(mesh_root()).grants
    waiting = [r for r in clearance_requests(_catalog()) if r.state == "requested"]
    rows = [{**g.model_dump(), "state": "granted"} for g in grants] + [
        {"domain": r.domain, "clearance": r.clearance, "requested_by": r.by,
         "reason": r.reason, "state": "requested"}
        for r in waiting
    ]  # fmt: skip
    human = "\n".join(
        f"{r['domain']:<12} {r['clearance']:<10} {r['state']:<9} "
        f"by {r.get('granted_by') or r.get('requested_by')}: {r['reason']}"
        for r in rows
    )
    emit(as_json, rows, human or "no clearances granted or requested")
