"""Commands for domain teams writing products: list, validate, scaffold (domain, product),
standards."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from mesh_platform.cli.app import emit, main, mesh_root
from mesh_platform.cli.identity import requester
from mesh_platform.cli.isolation import healthy_mesh
from mesh_platform.cli.remembered import Answer, remembered, rendered
from mesh_platform.errors import SpecErrors


@main.command(name="list")
@click.option("--domain", help="Only this domain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (full descriptions).")
def list_products(domain: str | None, as_json: bool) -> None:
    """List the products by domain: owners, visibility, schedule, inputs and description."""
    options = {"domain": domain, "json": as_json}
    remembered("list", options, mesh_root(), lambda: _listing(domain, as_json)).show()


def _listing(domain: str | None, as_json: bool) -> Answer:
    """`mesh list`'s answer, from the whole mesh loaded and planned."""
    from mesh_platform.cli.isolation import left_out_lines
    from mesh_platform.dev.listing import render_listing, rows
    from mesh_platform.loader.mesh import Mesh

    mesh = Mesh.load_healthy(mesh_root())  # a broken domain or product is left out, warned
    listed = rows(mesh, domain)
    text = rendered(as_json, listed, render_listing(mesh, listed, domain))
    return Answer(text, tuple(left_out_lines(mesh)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def validate(as_json: bool) -> None:
    """Check every spec (YAML, fields, inputs, cycles, SQL, contracts) and that every domain
    folder is a code location in workspace.yaml, without running anything."""
    remembered("validate", {"json": as_json}, mesh_root(), lambda: _validation(as_json)).show()


def _validation(as_json: bool) -> Answer:
    """`mesh validate`'s answer; kept only when no subscription had to be read."""
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.code_locations import check_workspace

    root = mesh_root()
    errors = []
    mesh = None
    try:
        mesh = Mesh.load(root)
    except SpecErrors as exc:
        errors.extend(exc.errors)
    errors.extend(check_workspace(root))
    if errors:
        return _refusal(as_json, errors)
    assert mesh is not None
    # Told, not refused: stderr, so stdout (and --json) stay the result.
    notices = tuple(f"warning: {notice}" for notice in mesh.notices)
    try:
        waiting, note, consulted = _declared_subscriptions(mesh)
    except SpecErrors as exc:  # reads beyond a subscription's column scope
        return replace(_refusal(as_json, list(exc.errors)), err=notices, keep=False)
    result: dict[str, Any] = {"ok": True, "products": len(mesh.products)}
    if waiting:
        result["subscriptions_waiting"] = waiting
    human = f"ok: {len(mesh.products)} products in {len(mesh.domains)} domains" + note
    return Answer(rendered(as_json, result, human), notices, keep=not consulted)


def _refusal(as_json: bool, errors: list[Any]) -> Answer:
    """`mesh validate`'s errors, exit status 1."""
    rows = [
        {"file": str(e.file), "line": e.line, "problem": e.problem, "fix": e.fix} for e in errors
    ]
    text = "\n".join(str(e) for e in errors)
    return Answer(
        rendered(as_json, {"ok": False, "errors": rows}, f"{len(rows)} error(s):\n{text}"), code=1
    )


def _declared_subscriptions(mesh: Any) -> tuple[list[dict[str, Any]], str, bool]:
    """Request a subscription for each new cross-domain input (after the platform team's
    approvals file), and say which reads wait for a decision and what to do: their runs fail
    until approved. The catalog being down is a warning, not a spec error. The last value
    says whether the catalog was read (then the answer depends on it)."""
    from mesh_platform.access.declared import unlisted_reads

    # Reads the platform team's approvals file lists are approved unless revoked (a run says
    # so); the catalog (and SQLAlchemy) is needed only for the others.
    if not unlisted_reads(mesh, mesh.root):
        return [], "", False
    from sqlalchemy.exc import SQLAlchemyError

    from mesh_platform.access import apply_approvals_file, request_declared
    from mesh_platform.access.scope import catalog_scope_errors
    from mesh_platform.catalog import Catalog, CatalogUnavailable
    from mesh_platform.config import environment

    try:
        catalog = Catalog.open(environment.catalog_url())
        apply_approvals_file(catalog, mesh.root)
        waiting = request_declared(catalog, mesh, actor=requester("mesh validate"))
        out_of_scope = catalog_scope_errors(catalog, mesh.products, mesh.plans)
    except (CatalogUnavailable, SQLAlchemyError) as exc:
        return [], f"\nwarning: subscriptions not checked (the catalog): {exc}", True
    if out_of_scope:
        raise SpecErrors(out_of_scope)
    rows = [
        {
            "id": row.id,
            "consumer": read.consumer,
            "product": read.product,
            "reader": read.reader,
            "state": row.state,
            "route": row.route,
        }
        for read, row in waiting
    ]
    if not rows:
        return [], "", True
    lines = [f"\n{len(rows)} cross-domain read(s) without an approved subscription:"]
    for r in rows:
        if r["state"] == "requested":
            who = {"platform": "the platform team", "producer": "its producer"}.get(
                str(r["route"]), "the approval sensor's routing"
            )
            todo = (
                f"subscription {r['id']} waits for a decision by {who} (`mesh approve "
                f"{r['id']}`); `mesh subscriptions --consumer {r['consumer']}`"
            )
        else:
            todo = (
                f"subscription {r['id']} is {r['state']}: ask again with `mesh subscribe "
                f'{r["product"]} --as {r["consumer"]} --purpose "..."`'
            )
        lines.append(f"  {r['reader']} reads {r['product']}: {todo}")
    lines.append("Runs of these products wait for access until their subscription is approved.")
    return rows, "\n".join(lines), True


class ScaffoldGroup(click.Group):
    """`mesh scaffold domain|product ...`; the first form, `mesh scaffold DOMAIN NAME
    --input ...`, still works: a first word that is not a subcommand means `product`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["product", *args]
        return super().parse_args(ctx, args)


@main.group(cls=ScaffoldGroup)
def scaffold() -> None:
    """Create a domain, or a product in a domain, ready to fill in.

    \b
    mesh scaffold domain logistics --team logistics --owner logistics@example.com
    mesh scaffold product logistics late_shipments --input orders=platform.silver_orders
    """


@scaffold.command(name="domain", short_help="A new domain: its folder and code location.")
@click.argument("name")
@click.option("--team", help="The owning team (default: NAME); products are owned by team:TEAM.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="OWNER",
    help="An owner of every product: an email or team:<name> (repeatable).",
)
def scaffold_domain_command(name: str, team: str | None, owners: tuple[str, ...]) -> None:
    """Create domain NAME: domains/NAME/ (domain.yaml, definitions.py, products/, tests/) and
    its code location in workspace.yaml."""
    from mesh_platform.dev.scaffold import scaffold_domain

    done = scaffold_domain(mesh_root(), name, team, owners)
    for path in done.created:
        click.echo(f"created {path}")
    if done.registered:
        click.echo(f"registered the code location {name!r} in workspace.yaml")
    click.echo(
        f"next: describe the domain in {done.folder / 'domain.yaml'}, then "
        f"`mesh scaffold product {name} NAME --input PORT=DOMAIN.PRODUCT` "
        "(docs/adding-a-domain.md)"
    )


@scaffold.command(name="product", short_help="A new product: its spec and example test.")
@click.argument("domain")
@click.argument("name")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PORT=PRODUCT",
    help="An input, e.g. orders=platform.silver_orders (repeatable).",
)
def scaffold_product_command(domain: str, name: str, inputs: tuple[str, ...]) -> None:
    """Create product NAME in DOMAIN: a spec and an example test (every input) to fill in."""
    from mesh_platform.dev.scaffold import scaffold_product

    pairs = {}
    for item in inputs:
        port, sep, ref = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write PORT=PRODUCT", param_hint="--input")
        pairs[port.strip()] = ref.strip()
    paths = scaffold_product(healthy_mesh(), domain, name, pairs)
    for path in paths:
        click.echo(f"created {path}")
    click.echo(
        f"next: edit the SQL, then `mesh preview {domain}.{name}`; write the test's rows, then "
        f"`mesh test {domain}.{name}`"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def standards(as_json: bool) -> None:
    """List the platform's standards: steps, step sequences, SQL functions, business rules."""
    from mesh_platform.dev.standards import catalog, render

    rows = catalog()
    human = render(rows)
    emit(as_json, rows, human)
