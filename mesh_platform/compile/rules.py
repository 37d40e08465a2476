"""Quality rules at load: each rule checked against the product's columns and inputs.

Also the names of the platform's own check (`contract`) and of its parts (schema change,
volume), which a rule may not take, and the volume guard's fit with the product.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlglot import exp

from mesh_platform.column_types import Schema, unknown_columns_message
from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.sql import SqlProblem
from mesh_platform.security.policy import reserved_calls
from mesh_platform.spec.model import ProductSpec, QualityRule

if TYPE_CHECKING:
    from mesh_platform.spec.loading import ProductSource

CONTRACT_CHECK = "contract"
SCHEMA_CHANGE_CHECK = "schema_change"
VOLUME_CHECK = "volume"
RESERVED_CHECKS = (CONTRACT_CHECK, SCHEMA_CHANGE_CHECK, VOLUME_CHECK)


def volume_guarded(spec: ProductSpec) -> bool:
    """Whether the product's runs get the `volume` part of the `contract` check (the row count
    against the last version's).

    A partitioned run replaces only its own partitions while the last materialization's row
    count may be of other partitions, so partitioned products are not compared.
    """
    return spec.volume.enabled and spec.partitioning is None


def reference_port(spec: ProductSpec, rule: QualityRule) -> str | None:
    """The input port a `references` rule reads: named by port, `domain.product` or product."""
    if rule.product is None:
        return None
    if rule.product in spec.inputs:
        return rule.product
    wanted = rule.product if "." in rule.product else f"{spec.domain}.{rule.product}"
    for port, ref in spec.input_refs().items():
        if ".".join(ref) == wanted:
            return port
    return None


def validate_rules(
    source: ProductSource, schema: Schema, input_schemas: Mapping[str, Schema | None]
) -> None:
    """Raise a SpecError (file, line, fix) for a rule the product cannot satisfy."""
    spec = source.spec
    _check_volume(source)
    seen: set[str] = set()
    for index, rule in enumerate(spec.quality):
        name = rule.check_name
        if name in seen or name in RESERVED_CHECKS:
            raise source.error(
                f"two quality checks are named {name!r} (or it is reserved)",
                "quality",
                index,
                fix="give the rule its own `name:`",
            )
        seen.add(name)
        unknown = unknown_columns_message(rule.target_columns, schema, f"quality rule {name!r}")
        if unknown is not None:
            raise source.error(
                unknown,
                "quality",
                index,
                "columns" if rule.columns else "column",
                fix="use a column of the product's contract",
            )
        if rule.rule == "references":
            _check_reference(source, index, rule, input_schemas)
        if rule.rule == "sql" and rule.sql:
            _check_sql(source, index, rule, schema)


def _check_volume(source: ProductSource) -> None:
    spec = source.spec
    # A guard the spec configures but the platform would never evaluate is a silent no-op.
    if "volume" in spec.model_fields_set and spec.volume.enabled and spec.partitioning:
        raise source.error(
            "`volume` is not checked for a partitioned product: a run replaces only its own "
            "partitions, so its row count is not comparable with the last run's",
            "volume",
            fix="remove `volume:` (or write `volume: off`); guard partitions with a "
            "`row_count` quality rule",
        )


def _check_reference(
    source: ProductSource, index: int, rule: QualityRule, input_schemas: Mapping[str, Schema | None]
) -> None:
    spec = source.spec
    port = reference_port(spec, rule)
    if port is None:
        raise source.error(
            f"quality rule {rule.check_name!r} references {rule.product!r}, which is not an "
            f"input; inputs: {', '.join(spec.inputs) or '(none)'}",
            "quality",
            index,
            "product",
            fix="add the product to `inputs:` (so it is up to date when the rule runs)",
        )
    target = input_schemas.get(port)
    ref_column = rule.ref_column or rule.column
    if target and ref_column not in target:
        raise source.error(
            f"quality rule {rule.check_name!r}: {rule.product!r} has no column {ref_column!r}; "
            f"it has: {', '.join(target)}",
            "quality",
            index,
            "ref_column",
            fix="name the key column of the referenced product with `ref_column:`",
        )


def _check_sql(source: ProductSource, index: int, rule: QualityRule, schema: Schema) -> None:
    spec = source.spec
    assert rule.sql is not None
    try:
        query = sqlmod.parse(rule.sql)
        _check_reserved(query, rule.sql)
        sqlmod.check_functions(query, rule.sql)
        sqlmod.validate(query, rule.sql, {spec.name: schema or None})
    except SqlProblem as problem:
        raise source.error(
            f"quality rule {rule.check_name!r}: {problem.message}",
            "quality",
            index,
            "sql",
            fix=problem.fix
            or f"the query reads the product as {spec.name!r} and returns the bad rows",
        ) from None


def _check_reserved(query: exp.Query, sql: str) -> None:
    """A quality rule never decrypts (its failing rows are stored and shown to people), even
    in a domain granted decryption, nor calls the platform's internals."""
    calls = list(query.find_all(exp.Anonymous))
    reserved = reserved_calls([f.name for f in calls], decrypt_granted=False)
    if reserved:
        first = next(f for f in calls if f.name.lower() in reserved)
        raise SqlProblem(
            f"may not call {', '.join(reserved)}: a quality rule never decrypts nor calls the "
            "platform's internals (its failing rows are stored and shown)",
            sqlmod.line_of_node(sql, first, first.name),
            "check the values as the product stores them (ciphertext compares with ciphertext: "
            "encrypt_det of a literal)",
        )
