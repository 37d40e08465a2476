"""The access policy seen from outside: `mesh grants` (Unity Catalog SQL, or one object-storage
policy per domain), from the specs and the catalog's approved subscriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mesh_platform.cli.app import emit, loaded_mesh, main, mesh_root

if TYPE_CHECKING:
    from mesh_platform.access.grantees import Subscribed


def _subscriptions() -> dict[tuple[str, str], Subscribed]:
    """The catalog's subscriptions (`CatalogUnavailable`, one clean message, when it is down)."""
    from mesh_platform.access.grantees import read_subscriptions
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    return read_subscriptions(Catalog.open(environment.catalog_url()))


@main.command()
@click.argument("product", required=False)
@click.option(
    "--dialect",
    type=click.Choice(["databricks"]),
    default="databricks",
    show_default=True,
    help="The warehouse's SQL: databricks (Unity Catalog GRANTs, views and column masks).",
)
@click.option(
    "--catalog",
    default="mesh",
    show_default=True,
    help="The warehouse catalog holding one schema per domain, one table per product.",
)
@click.option(
    "--storage",
    type=click.Choice(["s3"]),
    help="Print one object-storage policy per domain instead of SQL: s3 (IAM policy JSON).",
)
@click.option("--domain", help="With --storage: only this domain's policy.")
@click.option("--lake-root", help="With --storage: the lake's URI [default: MESH_LAKE_ROOT].")
@click.option(
    "--landing-root", help="With --storage: the landing URI [default: MESH_LANDING_ROOT]."
)
@click.option(
    "--landing-domain",
    "landing_domains",
    multiple=True,
    help="With --storage: a domain that may read the landing prefix (repeat it) [default: "
    "the landing domains: the access policy's `landing:` (platform) and the approvals file's].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --storage: write each policy to OUT/<domain>.<storage>.json as well.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON for scripts: [{product, dialect, statements}]; with --storage "
    "[{domain, team, storage, writes, reads, notes, policy}].",
)
def grants(product: str | None, storage: str | None, **options: Any) -> None:
    """The access policy outside the platform, from the specs and the catalog's APPROVED
    subscriptions (a requested, denied or revoked one grants nothing).

    \b
    SQL (default): Unity Catalog statements for PRODUCT (DOMAIN.PRODUCT) or every product.
      The owner's team gets SELECT, MODIFY; a team with an approved subscription SELECT (on a
      view of its columns when the subscription has a column scope); every other team
      nothing (a comment says why, and a REVOKE undoes an earlier grant). Each column some
      reader may not see in clear gets a column mask.
    --storage s3: one IAM policy per domain, for the storage role of its code location (code
      server, runs, workers): read and write <lake>/<domain>/, read the tables of its
      approved subscriptions, the landing prefix only for the domains that may declare
      landing sources (docs/access.md; --landing-domain to name others), nothing else.
      Apply with `aws iam put-role-policy` (docs/deployment.md).

    \b
    Examples:
      mesh grants platform.silver_customer --dialect databricks
      MESH_LAKE_ROOT=s3://lake/mesh mesh grants --storage s3 --domain sales --json
    """
    if storage is None:
        for name in ("domain", "lake_root", "landing_root", "landing_domains", "out"):
            if options[name]:
                flag = "--" + name.replace("_", "-")
                raise click.UsageError(f"{flag} goes with --storage (e.g. --storage s3)")
        _sql_grants(product, options["dialect"], options["catalog"], options["as_json"])
        return
    if product is not None:
        raise click.UsageError(
            f"--storage prints a policy per domain, not per product: drop {product!r}, or "
            "name the domain with --domain"
        )
    _storage_grants(storage, options)


def _sql_grants(product: str | None, dialect: str, catalog: str, as_json: bool) -> None:
    from mesh_platform.access.grants import databricks_grants
    from mesh_platform.compile.contracts import contract_of

    mesh = loaded_mesh()
    try:
        sources = [mesh.product(product)] if product else [mesh.products[k] for k in mesh.order]
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    domains = [d.spec for d in mesh.domains.values()]
    subscribed = _subscriptions()
    exports = [
        databricks_grants(
            contract_of(s), domains, catalog, s.spec.tags, s.spec.visibility, subscribed
        )
        for s in sources
    ]
    emit(
        as_json,
        [{"product": e.product, "dialect": dialect, "statements": e.statements} for e in exports],
        "\n".join(e.text() for e in exports).rstrip("\n"),
    )


def _storage_grants(storage: str, options: dict[str, Any]) -> None:
    from mesh_platform.access.landing import landing_domains
    from mesh_platform.access.storage_grants import (
        Published,
        s3_location,
        s3_policy,
        storage_grants,
    )
    from mesh_platform.compile.contracts import contract_of
    from mesh_platform.config import environment
    from mesh_platform.lake.lakehouse import Lakehouse

    mesh = loaded_mesh()
    domains = [d.spec for d in mesh.domains.values()]
    _check_domains(sorted(d.name for d in domains), options)
    wanted = options["domain"]
    lake_root = options["lake_root"] or environment.lake_root()
    landing_root = options["landing_root"] or environment.landing_root()
    s3_location(lake_root, "--lake-root" if options["lake_root"] else "MESH_LAKE_ROOT")
    s3_location(landing_root, "--landing-root" if options["landing_root"] else "MESH_LANDING_ROOT")
    lake = Lakehouse(root=lake_root, landing_root=landing_root)
    products = [
        Published(contract_of(s), s.spec.tags, s.spec.visibility)
        for s in (mesh.products[k] for k in mesh.order)
    ]
    found = storage_grants(
        products,
        domains,
        _subscriptions(),
        lake.uri,
        landing_root,
        options["landing_domains"] or landing_domains(mesh_root()),
    )
    exports = [
        {
            "domain": g.domain,
            "team": g.team,
            "storage": storage,
            "writes": list(g.writes),
            "reads": list(g.reads),
            "notes": list(g.notes),
            "policy": s3_policy(g),
        }
        for g in found
        if wanted is None or g.domain == wanted
    ]
    if options["out"] is not None:
        options["out"].mkdir(parents=True, exist_ok=True)
        for e in exports:
            path = options["out"] / f"{e['domain']}.{storage}.json"
            path.write_text(json.dumps(e["policy"], indent=2) + "\n")
    emit(options["as_json"], exports, "\n".join(_human(e) for e in exports).rstrip("\n"))


def _check_domains(names: list[str], options: dict[str, Any]) -> None:
    """Refuse a --domain or --landing-domain the mesh does not have."""
    wanted = options["domain"]
    if wanted is not None and wanted not in names:
        raise click.ClickException(f"no domain {wanted!r}; domains: {', '.join(names)}")
    unknown = sorted(set(options["landing_domains"]) - set(names))
    if unknown:
        raise click.ClickException(
            f"--landing-domain {', '.join(unknown)}: no such domain; domains: {', '.join(names)}"
        )


def _human(export: dict[str, Any]) -> str:
    lines = [
        f"# {export['domain']} ({export['team']}): {export['storage']} policy of its code "
        "location's storage role"
    ]
    lines += [f"#   {note}" for note in export["notes"]]
    return "\n".join(lines) + "\n" + json.dumps(export["policy"], indent=2) + "\n"
