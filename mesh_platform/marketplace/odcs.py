"""A published product's contract as an Open Data Contract Standard (ODCS v3) document.

Built from the spec and its plan (no catalog needed): the declared columns with their types,
meaning and tags, each column's formula from column lineage (`transformLogic`) over the
upstream products' columns (`transformSourceObjects`), sensitivity tags as `classification`,
the quality rules as ODCS `quality` checks, the freshness SLA and schedule as `slaProperties`,
and the owners and on-call as `team` and `support`, and the Delta table's location as `servers`
(`local`, or `s3` / `azure` when the lake root is object storage, as in the production
profile): a consumer points `datacontract-cli` at the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from mesh_platform.column_types import UNKNOWN, family
from mesh_platform.errors import MeshError
from mesh_platform.security.pii import SENSITIVITY_TAGS

if TYPE_CHECKING:
    from mesh_platform.compile.plan import ColumnPlan
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.quality import QualityRule

API_VERSION = "v3.1.0"
_SEVERITY = {"error": "error", "warn": "warning"}
_DIMENSION = {
    "not_null": "completeness",
    "unique": "uniqueness",
    "accepted_values": "conformity",
    "between": "accuracy",
    "regex": "conformity",
    "row_count": "completeness",
    "references": "consistency",
    "sql": "accuracy",
}


class ContractError(MeshError):
    """A contract was asked of a product that has none (unknown, left out or internal)."""


def odcs_document(mesh: Mesh, name: str) -> dict[str, Any]:
    """The ODCS v3 document of the published product `domain.product` of `mesh`."""
    source = published_source(mesh, name)
    spec = source.spec
    plan = mesh.plans[spec.key]
    rules = spec.quality
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": spec.qualified_name,
        "name": spec.name,
        "version": spec.version,
        "status": "active",
        "domain": spec.domain,
        "description": {
            "purpose": spec.description.strip(),
            "usage": f"Read it from another domain as an input: "
            f"`inputs: {{{spec.name}: {spec.qualified_name}}}`.",
        },
        "tags": [f"{k}:{v}" for k, v in sorted(spec.tags.items())],
        "schema": [
            _schema_object(source, [_property(source, mesh, c, rules) for c in plan.columns])
        ],
        "team": _team(mesh, source),
        "support": _support(mesh, spec.domain),
        "slaProperties": _sla(source),
        "servers": servers(spec.key),
        "customProperties": [
            {"property": "automation", "value": spec.automation or "manual"},
            {"property": "steps", "value": [_step_kind(s) for s in plan.steps]},
        ],
    }
    return {k: v for k, v in document.items() if v not in (None, [], {})}


# ODCS server types of the object stores a lake root may name (`MESH_LAKE_ROOT`).
_STORE_TYPES = {"s3": "s3", "s3a": "s3", "abfss": "azure", "az": "azure", "azure": "azure"}


def servers(key: tuple[str, str]) -> list[dict[str, Any]]:
    """Where the product's Delta table lives, as ODCS `servers`: the lake root of this
    deployment (`config/environment.py` `lake_root`) with the product's path, as the lakehouse
    builds it (`Lakehouse.uri`): a `local` path, or an object store URL (prod profile)."""
    from mesh_platform.config import environment
    from mesh_platform.lake.lakehouse import Lakehouse

    root = environment.lake_root()
    location = Lakehouse(root=root, landing_root="").uri(key)
    scheme = root.partition("://")[0] if "://" in root else ""
    store = _STORE_TYPES.get(scheme)
    if store is None and scheme not in ("", "file"):
        return []  # an object store ODCS has no server type for
    env = "prod" if environment.current_profile() == "prod" else "local"
    server: dict[str, Any] = {"server": env, "environment": env, "format": "delta"}
    if store is None:
        path = location.removeprefix("file://")
        return [{**server, "type": "local", "path": path}]
    return [{**server, "type": store, "location": location}]


def odcs_yaml(mesh: Mesh, name: str) -> str:
    """`odcs_document` as YAML, keys in the standard's order."""
    return yaml.safe_dump(odcs_document(mesh, name), sort_keys=False, allow_unicode=True)


def published_source(mesh: Mesh, name: str) -> ProductSource:
    """The spec of a published product; ContractError naming the fix otherwise."""
    try:
        source = mesh.product(name)
    except KeyError as exc:
        raise ContractError(str(exc.args[0])) from None
    if source.spec.visibility != "published":
        raise ContractError(
            f"{name} is internal to domain {source.spec.domain}: only published products have "
            "a contract; set `visibility: published` in its spec to publish it"
        )
    return source


def _schema_object(source: ProductSource, properties: list[dict[str, Any]]) -> dict[str, Any]:
    spec = source.spec
    obj: dict[str, Any] = {
        "name": spec.name,
        "physicalName": spec.qualified_name,
        "physicalType": "table",
        "logicalType": "object",
        "description": spec.description.strip(),
        "properties": properties,
    }
    table_rules = [_quality(r, source) for r in spec.quality if _table_level(r)]
    if table_rules:
        obj["quality"] = table_rules
    if spec.partitioning is not None:
        obj["dataGranularityDescription"] = (
            f"partitioned {spec.partitioning.granularity} by {spec.partitioning.column}"
        )
    return obj


def _table_level(rule: QualityRule) -> bool:
    return len(rule.target_columns) != 1


def _property(
    source: ProductSource, mesh: Mesh, column: ColumnPlan, rules: tuple[QualityRule, ...]
) -> dict[str, Any]:
    spec = source.spec
    own = [r for r in rules if r.target_columns == (column.name,)]
    prop: dict[str, Any] = {
        "name": column.name,
        "physicalType": column.type,
        "description": column.description,
    }
    logical = _logical_type(column.type)
    if logical:
        prop["logicalType"] = logical
    if column.tags:
        prop["tags"] = list(column.tags)
    sensitive = [t for t in column.tags if t in SENSITIVITY_TAGS]
    if sensitive:
        prop["classification"] = sensitive[0]
    if any(r.rule == "not_null" and r.severity == "error" for r in own):
        prop["required"] = True
    if any(r.rule == "unique" and r.severity == "error" for r in own):
        prop["unique"] = True
    if spec.partitioning is not None and spec.partitioning.column == column.name:
        prop.update(partitioned=True, partitionKeyPosition=1)
    refs = spec.input_refs()
    if column.sources or column.formula != column.name:
        prop["transformLogic"] = column.formula
    if column.sources:
        prop["transformSourceObjects"] = [
            f"{'.'.join(refs[port])}.{col}" if port in refs else f"{port}.{col}"
            for port, col in column.sources
        ]
    if own:
        prop["quality"] = [_quality(r, source) for r in own]
    return {k: v for k, v in prop.items() if v not in ("", None)}


def _logical_type(type_name: str) -> str | None:
    if type_name == UNKNOWN:
        return None
    if type_name in ("date", "timestamp"):
        return type_name
    if type_name in ("bigint", "int", "smallint", "tinyint"):
        return "integer"
    kind = family(type_name)
    return {"number": "number", "string": "string", "boolean": "boolean"}.get(kind or "")


def _quality(rule: QualityRule, source: ProductSource) -> dict[str, Any]:
    """One rule as an ODCS check: a library metric where ODCS has one, else SQL counting the
    rows that break it (a check passes when the count is 0)."""
    table = source.spec.qualified_name
    check: dict[str, Any] = {
        "name": rule.check_name,
        "description": rule.description or None,
        "dimension": _DIMENSION[rule.rule],
        "severity": _SEVERITY[rule.severity],
    }
    column = rule.column or ""
    if rule.rule == "not_null":
        check.update(type="library", metric="nullValues", mustBe=0)
    elif rule.rule == "unique":
        check.update(type="library", metric="duplicateValues", mustBe=0)
        if rule.columns:
            check["arguments"] = {"properties": list(rule.columns)}
    elif rule.rule == "accepted_values":
        check.update(
            type="library",
            metric="invalidValues",
            arguments={"validValues": list(rule.values)},
            mustBe=0,
        )
    elif rule.rule == "regex":
        check.update(
            type="library", metric="invalidValues", arguments={"pattern": rule.pattern}, mustBe=0
        )
    elif rule.rule == "row_count":
        check.update(type="library", metric="rowCount", **_bounds(rule))
    elif rule.rule == "between":
        outside = " OR ".join(
            part
            for part in (
                f"{column} < {rule.min}" if rule.min is not None else "",
                f"{column} > {rule.max}" if rule.max is not None else "",
            )
            if part
        )
        check.update(type="sql", query=f"SELECT count(*) FROM {table} WHERE {outside}", mustBe=0)
    elif rule.rule == "references":
        ref = rule.ref_column or column
        check.update(
            type="sql",
            query=f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN "
            f"(SELECT {ref} FROM {_qualified(source, rule.product or '')})",
            mustBe=0,
        )
    else:
        bad_rows = (rule.sql or "").strip().rstrip(";")
        check.update(type="sql", query=f"SELECT count(*) FROM ({bad_rows}) AS bad_rows", mustBe=0)
    return {k: v for k, v in check.items() if v is not None}


def _qualified(source: ProductSource, product: str) -> str:
    """A rule's `product:` (an input port, a product of the domain or `domain.product`)."""
    refs = source.spec.input_refs()
    if product in refs:
        return ".".join(refs[product])
    return product if "." in product else f"{source.spec.domain}.{product}"


def _bounds(rule: QualityRule) -> dict[str, Any]:
    if rule.min is not None and rule.max is not None:
        return {"mustBeBetween": [rule.min, rule.max]}
    if rule.min is not None:
        return {"mustBeGreaterOrEqualTo": rule.min}
    return {"mustBeLessOrEqualTo": rule.max}


def _team(mesh: Mesh, source: ProductSource) -> dict[str, Any]:
    domain = mesh.domains[source.spec.domain].spec
    team: dict[str, Any] = {
        "name": domain.team,
        "members": [{"username": owner, "role": "owner"} for owner in source.spec.owners],
    }
    if domain.description.strip():
        team["description"] = domain.description.strip()
    return team


def _support(mesh: Mesh, domain_name: str) -> list[dict[str, Any]]:
    domain = mesh.domains[domain_name].spec
    support: list[dict[str, Any]] = []
    if domain.on_call:
        support.append(
            {
                "channel": "on-call",
                "tool": "email",
                "url": f"mailto:{domain.on_call}",
                "scope": "issues",
            }
        )
    support += [{"channel": channel, "scope": "notifications"} for channel in domain.channels]
    return support


def _sla(source: ProductSource) -> list[dict[str, Any]]:
    spec = source.spec
    sla: list[dict[str, Any]] = []
    if spec.freshness is not None:
        sla.append(
            {
                "property": "latency",
                "value": spec.freshness.max_age_hours,
                "unit": "h",
                "driver": "operational",
                "description": f"Updated at most {spec.freshness.max_age_hours:g} hours ago",
            }
        )
    if spec.schedule:
        sla.append(
            {
                "property": "frequency",
                "value": spec.schedule,
                "scheduler": "cron",
                "schedule": spec.schedule,
            }
        )
    return sla


def _step_kind(step: Any) -> str:
    return f"{step.kind}:{step.name}"
