"""The access policy as warehouse statements: SQL GRANTs, views and column masks (`mesh grants`).

For a warehouse that serves the lake's tables to people and tools outside the platform (Unity
Catalog on Databricks), the same rules the platform applies on read become (`grantees`): the
owning domain's team may read and modify its tables; another domain's team may read a product
only with an approved subscription (and not at all a product the policy hides from it), the
columns of its subscription's scope only, through a view (Unity Catalog grants SELECT on
tables and views, not on columns); every other team gets nothing, and a comment says why.
Every column some reader may not see in clear gets a column mask: clear for the teams the
policy clears, the standard masking step's expression for the others, and NULL for anyone
else (a principal the mesh does not know). Principals are the domains' teams (`team:` of
domain.yaml) as account groups. Object-storage policies: `storage_grants`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mesh_platform.access.grantees import Grantee, Subscriptions, grantees
from mesh_platform.access.policy import ColumnAccess, MaskStep, access_policy, who_sees
from mesh_platform.compile.contracts import ContractColumn, PublishedContract
from mesh_platform.errors import MeshError
from mesh_platform.spec.model import DomainSpec

DIALECTS = ("databricks",)


class GrantsError(MeshError):
    """The policy cannot be expressed in the warehouse's SQL (e.g. a keyed masking step)."""


@dataclass(frozen=True)
class ProductGrants:
    """The statements of one product, with the comment that introduces them."""

    product: str
    statements: tuple[str, ...]

    def text(self) -> str:
        """The statements as one SQL script."""
        return "\n".join(self.statements) + "\n"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sql_type(column_type: str) -> str:
    return "STRING" if column_type == "unknown" else column_type.upper()


def mask_expression(step: MaskStep | None, column_type: str, product: str, column: str) -> str:
    """Databricks SQL for the masking step `step` over `value` (None: hidden, NULL)."""
    if step is None or step.use == "nullify":
        return f"CAST(NULL AS {_sql_type(column_type)})"
    params: Mapping[str, Any] = step.params
    if step.use == "redact":
        return f"concat(left(value, {int(params.get('keep', 1))}), '***')"
    if step.use == "mask":
        style = params.get("style", "partial")
        if style == "email":
            return "regexp_replace(value, '^(.)[^@]*@', '$1***@')"
        if style == "phone":
            return "concat(repeat('*', greatest(length(value) - 4, 0)), right(value, 4))"
        keep = int(params.get("keep", 1))
        return f"concat(left(value, {keep}), repeat('*', greatest(length(value) - {keep}, 0)))"
    if step.use == "generalize" and params.get("to") == "month":
        return f"CAST(date_trunc('MONTH', value) AS {_sql_type(column_type)})"
    if step.use == "generalize":
        width = float(params["width"])
        return f"CAST(floor(value / {width!r}) * {width!r} AS {_sql_type(column_type)})"
    raise GrantsError(
        f"{product}.{column}: the access policy masks it with {step.use!r}, which has no "
        "warehouse SQL equivalent (keyed steps need the platform's keys). Fix: mask it with "
        "mask, nullify or generalize in standards/access_policy.yaml"
    )


def databricks_grants(
    contract: PublishedContract,
    domains: Iterable[DomainSpec],
    catalog: str = "mesh",
    spec_tags: Mapping[str, str] | None = None,
    visibility: str | None = None,
    subscribed: Subscriptions | None = None,
) -> ProductGrants:
    """Unity Catalog GRANTs, views and column masks for one product (its `PublishedContract`).

    `domains` are every domain's `DomainSpec`; `subscribed` the catalog's subscriptions
    (`read_subscriptions`): a domain other than the owner is granted the product only with an
    approved one (`grantees`). The script converges: running it again after a revocation
    revokes what the domain was granted before.
    """
    domains = list(domains)
    found = grantees(contract, domains, subscribed or {}, spec_tags, visibility)
    owner = found[0]
    table = f"{catalog}.{owner.domain}.{contract.name}"
    out = [
        f"-- {contract.qualified_name} {contract.version}: access policy version "
        f"{access_policy().version}, Unity Catalog (mesh grants --dialect databricks)",
        f"-- {owner.domain} ({owner.team}) owns it; another domain reads it only with an "
        "approved subscription, and no one else is granted anything.",
        *_use(catalog, owner.domain, owner.team),
        f"GRANT SELECT, MODIFY ON TABLE {table} TO {_quote(owner.team)};",
    ]
    for grantee in found[1:]:
        out += _reader_statements(catalog, table, grantee)
    readers = [g for g in found if g.granted]
    protected = _protected(contract, domains, spec_tags, visibility)
    for column in (c for c in contract.columns if c.name in protected):
        by_domain = {
            g.domain: next(c for c in g.access.columns if c.column == column.name)
            for g in readers
            if g.access is not None and (g.columns is None or column.name in g.columns)
        }
        teams = {g.domain: g.team for g in readers}
        out += _column_mask(contract, table, column, protected[column.name], by_domain, teams)
    return ProductGrants(contract.qualified_name, tuple(out))


def _protected(
    contract: PublishedContract,
    domains: Iterable[DomainSpec],
    spec_tags: Mapping[str, str] | None,
    visibility: str | None,
) -> dict[str, str]:
    """The columns that get a mask, with the policy's reasons: those that some domain allowed
    to read the product would not see in clear, whether or not it subscribes today (so that a
    principal granted by hand, or a subscriber approved after the script ran, sees NULL)."""
    published = (visibility or contract.visibility) == "published"
    readers = [d for d in domains if published or d.name == contract.domain]
    seen = [a for a in who_sees(contract, readers, spec_tags).values() if a.readable]
    reasons: dict[str, set[str]] = {}
    for access in seen:
        for column in access.columns:
            if column.action != "clear":
                reasons.setdefault(column.column, set()).add(column.because)
    return {name: "; ".join(sorted(found - {""})) for name, found in reasons.items()}


def _use(catalog: str, schema: str, team: str) -> list[str]:
    return [
        f"GRANT USE CATALOG ON CATALOG {catalog} TO {_quote(team)};",
        f"GRANT USE SCHEMA ON SCHEMA {catalog}.{schema} TO {_quote(team)};",
    ]


def _reader_statements(catalog: str, table: str, grantee: Grantee) -> list[str]:
    """A domain's grant of `table`: SELECT on the table (every column), SELECT on a view of
    its subscription's columns (Unity Catalog grants SELECT on tables and views, not on
    columns), or nothing, revoking what an earlier run of the script granted."""
    team = _quote(grantee.team)
    view = f"{table}__{grantee.domain}"
    head = f"-- {grantee.domain} ({grantee.team}): "
    if not grantee.granted:
        return [
            head + f"nothing granted: {grantee.because}",
            f"REVOKE ALL PRIVILEGES ON TABLE {table} FROM {team};",
            f"DROP VIEW IF EXISTS {view};",
        ]
    schema = table.split(".")[1]
    if grantee.columns is None:
        return [
            head + f"{grantee.because}: reads it (SELECT)",
            *_use(catalog, schema, grantee.team),
            f"GRANT SELECT ON TABLE {table} TO {team};",
            f"DROP VIEW IF EXISTS {view};",
        ]
    columns = ", ".join(grantee.columns)
    return [
        head + f"{grantee.because}, scoped to {columns}: reads a view of those columns only "
        "(the table's column masks apply through it)",
        f"REVOKE ALL PRIVILEGES ON TABLE {table} FROM {team};",
        f"CREATE OR REPLACE VIEW {view} AS SELECT {columns} FROM {table};",
        *_use(catalog, schema, grantee.team),
        f"GRANT SELECT ON VIEW {view} TO {team};",
    ]


def _column_mask(
    contract: PublishedContract,
    table: str,
    contract_column: ContractColumn,
    reasons: str,
    by_domain: Mapping[str, ColumnAccess],
    teams: Mapping[str, str],
) -> list[str]:
    column, column_type = contract_column.name, contract_column.type
    function = f"{table}_{column}_mask"
    sql_type = _sql_type(column_type)
    branches = []
    clear = [teams[n] for n, c in by_domain.items() if c.action == "clear"]
    if clear:
        members = " OR ".join(f"is_account_group_member('{t}')" for t in clear)
        branches.append(f"    WHEN {members} THEN value")
    masked: dict[str, list[str]] = {}
    for name, access in by_domain.items():
        if access.action == "masked":
            expression = mask_expression(access.step, column_type, contract.qualified_name, column)
            masked.setdefault(expression, []).append(teams[name])
    for expression, group in masked.items():
        members = " OR ".join(f"is_account_group_member('{t}')" for t in group)
        branches.append(f"    WHEN {members} THEN {expression}")
    return [
        f"-- {column}: {reasons}; anyone else sees NULL",
        f"CREATE OR REPLACE FUNCTION {function}(value {sql_type})",
        f"  RETURNS {sql_type}",
        "  RETURN CASE",
        *branches,
        f"    ELSE CAST(NULL AS {sql_type})",
        "  END;",
        f"ALTER TABLE {table} ALTER COLUMN {column} SET MASK {function};",
    ]
