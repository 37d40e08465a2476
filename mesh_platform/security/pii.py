"""PII propagation: sensitivity tags flow through column lineage, protections change them.

A column computed from a `pii` column is `pii`, unless the formula wraps the PII source in a
protecting function that keeps nothing readable of it: `pseudonymize(c_name)` is
`pseudonymized`, `encrypt_det(c_phone)` `encrypted`, `generalize_*` `generalized`, and a
registered mask `masked` only when it keeps at most `MASK_KEEP_AT_MOST` characters of the value
(`mask_partial(c_name, 200)` stays `pii`, and so does `mask_email`, which keeps a value without
'@' whole). `decrypt_det` gives `pii` back. Counting PII values is not PII. Only these
sensitivity tags propagate; other tags (e.g. `finance`) stay where declared.

The tags follow values, not names: every source column of a column's lineage counts, including
those its formula does not show (a UNION's other branches, a LATERAL VIEW's), and a column
without lineage carries every sensitive tag of the product's inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from mesh_platform.registry import SqlFunction, registry

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
        inherited = set() if lineage and _reads_nothing(lineage[1]) else _all_of(input_tags)
    else:
        sources, formula = lineage
        by_column: dict[str, set[str]] = {}
        for port, column in sources:
            by_column.setdefault(column, set()).update(
                _sensitive(input_tags.get(port, {}).get(column, ()))
            )
        inherited = _formula_tags(formula, by_column)
    return tuple(dict.fromkeys([*declared, *sorted(inherited - set(declared))]))


def _all_of(input_tags: Mapping[str, Mapping[str, tuple[str, ...]]]) -> set[str]:
    """No lineage known: the column may hold any input's values (the conservative choice)."""
    return _sensitive(t for cols in input_tags.values() for tags in cols.values() for t in tags)


def _reads_nothing(formula: str) -> bool:
    """Whether a formula without sources reads no column at all (a literal, `count(*)`)."""
    tree = _formula_tree(formula)
    return tree is not None and tree.find(exp.Column) is None


def _formula_tree(formula: str) -> exp.Expression | None:
    try:
        tree = sqlglot.parse_one(formula, read="spark")
    except ParseError:
        return None
    return tree if isinstance(tree, exp.Expression) else None


def _formula_tags(formula: str, by_column: Mapping[str, set[str]]) -> set[str]:
    tree = _formula_tree(formula)
    if tree is None:
        return {t for tags in by_column.values() for t in tags}
    found = _walk(tree, by_column, registry().functions.tagging())
    # A source the formula does not show (another branch of a UNION, a LATERAL VIEW's
    # column) flows into the value as it is: its tags count unchanged.
    shown = {c.name for c in tree.find_all(exp.Column)}
    for column, tags in by_column.items():
        if column not in shown:
            found |= tags
    return found


def _walk(
    node: exp.Expression, by_column: Mapping[str, set[str]], tagging: Mapping[str, SqlFunction]
) -> set[str]:
    if isinstance(node, exp.Column):
        return set(by_column.get(node.name, set()))
    if isinstance(node, _NOT_PII):
        return set()
    inner: set[str] = set()
    for child in node.iter_expressions():
        inner |= _walk(child, by_column, tagging)
    if not isinstance(node, exp.Anonymous):
        return inner
    function = tagging.get(node.name.lower())
    if function is None:
        return inner
    if function.reveals:  # decryption: the clear value, whatever it read
        return (inner - {"encrypted"}) | {PII}
    if inner and function.protects_as and function.clears_pii(_kept(node, function)):
        return (inner - {PII}) | {function.protects_as}
    return inner


def _kept(call: exp.Anonymous, function: SqlFunction) -> int | None:
    """The literal number of characters a mask call keeps (its `keep_arg`), else None."""
    if function.keep_arg is None:
        return None
    args = call.expressions
    if function.keep_arg >= len(args):
        return None
    arg = args[function.keep_arg]
    if isinstance(arg, exp.Literal) and not arg.is_string:
        try:
            return int(arg.this)
        except ValueError:
            return None
    return None


def contains_pii(columns_tags: Iterable[tuple[str, ...]]) -> bool:
    """Whether any column is tagged `pii` (the dataset-level `contains_pii` tag)."""
    return any(PII in tags for tags in columns_tags)
