"""The access policy as warehouse statements: SQL GRANTs and column masks (`mesh grants`).

For a warehouse that serves the lake's tables to people and tools outside the platform (Unity
Catalog on Databricks), the same policy the engine applies on read becomes: the owning
domain's team may read and modify its tables, the other domains' teams may only read (and not
at all a product the policy hides from them), and every column some domain may not see in clear
gets a column mask: clear for the teams the policy clears, the standard masking step's
expression for the others, and NULL for anyone else (a principal the mesh does not know).
Principals are the domains' teams (`team:` of domain.yaml) as account groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mesh_platform.access.policy import ColumnAccess, MaskStep, access_policy, who_sees
from mesh_platform.compile.contracts import PublishedContract
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
) -> ProductGrants:
    """Unity Catalog GRANTs and column masks for one product (its `PublishedContract`).

    `domains` are every domain's `DomainSpec`; a product that is not published is granted
    to its own domain only.
    """
    domains = sorted(domains, key=lambda d: d.name)
    teams = {d.name: d.team for d in domains}
    owner = contract.domain
    table = f"{catalog}.{owner}.{contract.name}"
    published = (visibility or contract.visibility) == "published"
    seen = who_sees(contract, [d for d in domains if published or d.name == owner], spec_tags)
    out = [
        f"-- {contract.qualified_name} {contract.version}: access policy version "
        f"{access_policy().version}, Unity Catalog (mesh grants --dialect databricks)",
        f"-- {owner} ({teams[owner]}) owns it; other domains read it only.",
        f"GRANT USE CATALOG ON CATALOG {catalog} TO {_quote(teams[owner])};",
        f"GRANT USE SCHEMA ON SCHEMA {catalog}.{owner} TO {_quote(teams[owner])};",
        f"GRANT SELECT, MODIFY ON TABLE {table} TO {_quote(teams[owner])};",
    ]
    for name, access in seen.items():
        if name == owner:
            continue
        if not access.readable:
            out.append(f"-- {name} ({teams[name]}): not granted ({access.because})")
            continue
        out += [
            f"GRANT USE CATALOG ON CATALOG {catalog} TO {_quote(teams[name])};",
            f"GRANT USE SCHEMA ON SCHEMA {catalog}.{owner} TO {_quote(teams[name])};",
            f"GRANT SELECT ON TABLE {table} TO {_quote(teams[name])};",
        ]
    types = {c.name: c.type for c in contract.columns}
    for column in contract.columns:
        by_domain = {
            name: next(c for c in access.columns if c.column == column.name)
            for name, access in seen.items()
            if access.readable
        }
        if all(c.action == "clear" for c in by_domain.values()):
            continue
        out += _column_mask(contract, table, column.name, types[column.name], by_domain, teams)
    return ProductGrants(contract.qualified_name, tuple(out))


def _column_mask(
    contract: PublishedContract,
    table: str,
    column: str,
    column_type: str,
    by_domain: Mapping[str, ColumnAccess],
    teams: Mapping[str, str],
) -> list[str]:
    function = f"{table}_{column}_mask"
    sql_type = _sql_type(column_type)
    reasons = sorted({c.because for n, c in by_domain.items() if n != contract.domain} - {""})
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
        f"-- {column}: {'; '.join(reasons)}; anyone else sees NULL",
        f"CREATE OR REPLACE FUNCTION {function}(value {sql_type})",
        f"  RETURNS {sql_type}",
        "  RETURN CASE",
        *branches,
        f"    ELSE CAST(NULL AS {sql_type})",
        "  END;",
        f"ALTER TABLE {table} ALTER COLUMN {column} SET MASK {function};",
    ]
