"""PII propagation: sensitivity tags flow through column lineage, protections change them.

A column computed from a `pii` column is `pii`, unless the formula wraps the PII source in a
protecting function: `pseudonymize(c_name)` is `pseudonymized`, `encrypt_det(c_phone)` is
`encrypted`, `mask_*` is `masked`, `generalize_*` is `generalized`. Counting PII values is not
PII. Only these sensitivity tags propagate; other tags (e.g. `finance`) stay where declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from mesh_platform.registry import registry

PII = "pii"
SENSITIVITY_TAGS = (PII, "encrypted", "pseudonymized", "masked", "generalized")
CONTAINS_PII = "contains_pii"
_NOT_PII = (exp.Count, exp.Null, exp.Literal)

Lineage = tuple[tuple[tuple[str, str], ...], str]  # (sources, formula)


def _sensitive(tags: Iterable[str]) -> set[str]:
    return {t for t in tags if t in SENSITIVITY_TAGS}


def column_tags(
    name: str,
    declared: tuple[str, ...],
    lineage: Lineage | None,
    input_tags: Mapping[str, Mapping[str, tuple[str, ...]]],
) -> tuple[str, ...]:
    """A column's tags: what its contract declares plus what flows from its sources."""
    if lineage is None or not lineage[0]:
        # No lineage (e.g. after a Python step): a column named like a tagged input column
        # keeps that column's tags, the conservative choice.
        inherited = {t for cols in input_tags.values() for t in _sensitive(cols.get(name, ()))}
    else:
        sources, formula = lineage
        by_column: dict[str, set[str]] = {}
        for port, column in sources:
            by_column.setdefault(column, set()).update(
                _sensitive(input_tags.get(port, {}).get(column, ()))
            )
        inherited = _formula_tags(formula, by_column)
    return tuple(dict.fromkeys([*declared, *sorted(inherited - set(declared))]))


def _formula_tags(formula: str, by_column: Mapping[str, set[str]]) -> set[str]:
    try:
        tree = sqlglot.parse_one(formula, read="spark")
    except ParseError:
        return {t for tags in by_column.values() for t in tags}
    assert isinstance(tree, exp.Expression)
    return _walk(tree, by_column, registry().functions.protections())


def _walk(
    node: exp.Expression, by_column: Mapping[str, set[str]], protect: Mapping[str, str]
) -> set[str]:
    if isinstance(node, exp.Column):
        return set(by_column.get(node.name, set()))
    if isinstance(node, _NOT_PII):
        return set()
    inner: set[str] = set()
    for child in node.iter_expressions():
        inner |= _walk(child, by_column, protect)
    if isinstance(node, exp.Anonymous) and node.name.lower() in protect:
        return (inner - {PII}) | {protect[node.name.lower()]} if inner else set()
    return inner


def contains_pii(columns_tags: Iterable[tuple[str, ...]]) -> bool:
    """Whether any column is tagged `pii` (the dataset-level `contains_pii` tag)."""
    return any(PII in tags for tags in columns_tags)
