"""Masked values through one SQL step: which of its columns carry them, and how it uses them.

The step is qualified against the schemas known at load (sqlglot), then each scope (WITH
query, subquery, UNION branch, the step) is read after the scopes it reads: a column reference
resolves to an input, an earlier step or a scope's output, and carries the masked origins of
what it reads. Each reference is then classified by where it stands (`_context`): passed
through, counted, a join key, the argument of a keyed function, or computed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from mesh_platform.column_types import Schema
from mesh_platform.compile.sql import SOURCE_DIALECT, sqlglot_schema
from mesh_platform.registry import registry


@dataclass(frozen=True, order=True)
class Origin:
    """A masked input column a value comes from; `raw`: the masked value itself (passed
    through), not a value computed from it."""

    port: str
    column: str
    raw: bool

    def derived(self) -> Origin:
        """The origin of a value computed from this one."""
        return Origin(self.port, self.column, False)


Taints = frozenset[Origin]
NONE: Taints = frozenset()


@dataclass(frozen=True)
class Use:
    """A use of a masked value in a step: its kind, origin, the SQL around it, the column."""

    kind: str
    origin: Origin
    expression: str
    column: str


# What stops the search for the comparison a column stands in.
_PREDICATE_BOUNDS = (exp.EQ, exp.Connector, exp.Where, exp.Join, exp.Select, exp.Having)
_CLAUSES: dict[type[exp.Expr], str] = {
    exp.Where: "WHERE",
    exp.Group: "GROUP BY",
    exp.Having: "HAVING",
    exp.Order: "ORDER BY",
    exp.Ordered: "ORDER BY",
    exp.Qualify: "QUALIFY",
}


def sql_uses(
    query: exp.Query,
    frames: Mapping[str, Mapping[str, Taints]],
    schemas: Mapping[str, Schema],
    hidden: set[Origin],
) -> tuple[list[Use], dict[str, Taints]]:
    """The uses of masked values in `query` and which of its output columns carry them.

    `frames`: each input's and earlier step's masked columns; `schemas`: their known columns;
    `hidden`: origins that read as NULL (a count of them is 0).
    """
    known = {name: schema for name, schema in schemas.items() if schema}
    try:
        qualified = qualify(
            query.copy(),
            schema=sqlglot_schema(known),
            dialect=SOURCE_DIALECT,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
    except (OptimizeError, ValueError, KeyError):
        qualified = query.copy()
    root = build_scope(qualified)
    if root is None:
        return [], {}
    reader = _Reader(frames, hidden)
    for scope in root.traverse():
        reader.outputs[id(scope.expression)] = reader.scope(scope)
    out = reader.outputs.get(id(root.expression), {})
    return reader.uses, {name: taints for name, taints in out.items() if taints}


class _Reader:
    """The scopes' outputs (by their expression's id) and the uses found, scope by scope."""

    def __init__(self, frames: Mapping[str, Mapping[str, Taints]], hidden: set[Origin]) -> None:
        self.frames = frames
        self.hidden = hidden
        self.keyed = registry().functions.keyed()
        self.outputs: dict[int, dict[str, Taints]] = {}
        self.uses: list[Use] = []

    def scope(self, scope: Scope) -> dict[str, Taints]:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            return self._set_operation(expression)
        if not isinstance(expression, exp.Select):
            return {}
        out: dict[str, Taints] = {}
        for item in expression.selects:
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                out.update(self._star(scope, item.table if isinstance(item, exp.Column) else ""))
            else:
                out[item.alias_or_name] = NONE
        for column in scope.columns:
            taints = self._resolve(column, scope)
            if taints:
                self._classify(column, taints, scope, out)
        self._in_subqueries(expression)
        return out

    def _classify(
        self, column: exp.Column, taints: Taints, scope: Scope, out: dict[str, Taints]
    ) -> None:
        """Record the use of `column` (carrying `taints`) and what the select items carry."""
        kind, shown = _context(column, scope, self.keyed)
        item = _select_item(column, scope.expression)
        if kind in ("pass", "distinct"):
            carried = taints
        elif kind == "count":
            carried = NONE
        else:
            carried = frozenset(o.derived() for o in taints)
        if item is not None and carried:
            out[item] = out.get(item, NONE) | carried
        for origin in sorted(taints):
            found = _use_kind(kind, origin, origin in self.hidden)
            if found is not None:
                self.uses.append(Use(found, origin, shown, column.name))

    def _set_operation(self, expression: exp.SetOperation) -> dict[str, Taints]:
        left = self.outputs.get(id(expression.left.unnest()), {})
        right = list(self.outputs.get(id(expression.right.unnest()), {}).values())
        return {
            name: taints | (right[index] if index < len(right) else NONE)
            for index, (name, taints) in enumerate(left.items())
        }

    def _star(self, scope: Scope, table: str) -> dict[str, Taints]:
        found: dict[str, Taints] = {}
        for alias, source in scope.sources.items():
            if not table or alias == table:
                found.update(self._source_columns(source))
        return found

    def _source_columns(self, source: object) -> Mapping[str, Taints]:
        if isinstance(source, exp.Table):
            return self.frames.get(source.name, {})
        if isinstance(source, Scope):
            return self.outputs.get(id(source.expression), {})
        return {}

    def _resolve(self, column: exp.Column, scope: Scope) -> Taints:
        """What `column` carries: from the source its table names (in this scope or an outer
        one, for a correlated subquery); unqualified, from every source that has the name."""
        current: Scope | None = scope
        while current is not None:
            if column.table:
                source = current.sources.get(column.table)
                if source is not None:
                    return self._source_columns(source).get(column.name, NONE)
            else:
                found = [
                    self._source_columns(s).get(column.name, NONE) for s in current.sources.values()
                ]
                if any(found):
                    return frozenset().union(*found)
            current = current.parent
        return NONE

    def _in_subqueries(self, select: exp.Select) -> None:
        """`x IN (SELECT key ...)`: the subquery's selected key is a join key too."""
        for node in select.find_all(exp.In):
            query = node.args.get("query")
            if query is None or node.find_ancestor(exp.Select) is not select:
                continue
            inner = self.outputs.get(id(query.unnest()), {})
            first = next(iter(inner.items()), None)
            if first is None:
                continue
            for origin in sorted(first[1]):
                self.uses.append(Use("join_key", origin, _shown(node), first[0]))


def _use_kind(kind: str, origin: Origin, hidden: bool) -> str | None:
    """The kind of use recorded: refusals for any value from a masked column, warnings only
    for the masked value itself (a computation over a computed value was told already)."""
    if kind in ("join_key", "security"):
        return kind
    if not origin.raw:
        return None
    if kind == "count":
        return "null_count" if hidden else None
    if kind == "distinct":
        return "computed"
    return None if kind == "pass" else kind


def _context(column: exp.Column, scope: Scope, keyed: frozenset[str]) -> tuple[str, str]:
    """Where `column` stands in its scope, and the SQL shown for it."""
    select = scope.expression
    chain: list[tuple[str, exp.Expr]] = []
    node: exp.Expr = column
    while node is not select and node.parent is not None:
        chain.append((node.arg_key or "", node.parent))
        node = node.parent
    around = column.parent
    while around is not None and not isinstance(around, _PREDICATE_BOUNDS):
        around = around.parent  # the comparison the column stands in (through functions)
    for key, parent in chain:
        if isinstance(parent, exp.Anonymous) and parent.name.lower() in keyed:
            return "security", _shown(parent)
        if isinstance(parent, exp.Join) and key == "using":
            return "join_key", _shown(parent.args.get(key) or parent, qualified=True)
        if isinstance(parent, exp.In) and key == "this" and parent.args.get("query"):
            return "join_key", _shown(parent)
    # An equality with another table's column: in ON, or in WHERE (an implicit or correlated
    # join); any other condition on the column is a filter, computed over the masked values.
    if isinstance(around, exp.EQ) and _other_table(around, column):
        return "join_key", _shown(around, qualified=True)
    first = chain[0][1] if chain else select
    if _selected(chain, select):
        distinct = bool(select.args.get("distinct"))
        return ("distinct", f"SELECT DISTINCT {column.name}") if distinct else ("pass", "")
    if isinstance(first, exp.Count):
        return "count", _shown(first)
    if isinstance(first, exp.Distinct) and isinstance(first.parent, exp.Count):
        return "distinct_count", _shown(first.parent)
    clause = _CLAUSES.get(type(first))
    return "computed", f"{clause} {column.name}" if clause else _shown(first)


def _selected(chain: list[tuple[str, exp.Expr]], select: exp.Expr) -> bool:
    """The column is a select item itself, or aliased (`c_name AS name`)."""
    if chain and chain[0] == ("expressions", select):
        return True
    return (
        len(chain) > 1
        and isinstance(chain[0][1], exp.Alias)
        and chain[1] == ("expressions", select)
    )


def _other_table(equality: exp.EQ, column: exp.Column) -> bool:
    """An equality of the column (or a value computed from it) with another table's column:
    a join key, in ON or in WHERE (an implicit or correlated join)."""
    sides = [equality.this, equality.expression]
    other = [s for s in sides if all(c is not column for c in s.find_all(exp.Column))]
    return any(
        c.table and c.table != column.table for side in other for c in side.find_all(exp.Column)
    )


def _select_item(column: exp.Column, select: exp.Expr) -> str | None:
    """The name of the select item holding `column` (None: another clause)."""
    node: exp.Expr = column
    while node.parent is not None and node.parent is not select:
        node = node.parent
    if node.parent is select and node.arg_key == "expressions":
        return node.alias_or_name
    return None


def _shown(node: exp.Expr, qualified: bool = False) -> str:
    """The SQL of `node` as the author wrote it (functions in lower case), columns without
    their table qualifier unless `qualified` (a join condition); a subquery as `(SELECT ...)`."""
    if isinstance(node, exp.In) and node.args.get("query") is not None:
        return f"{_shown(node.this, qualified)} IN (SELECT ...)"
    shown = node.copy()
    if not qualified:
        shown = shown.transform(
            lambda n: exp.column(n.name) if isinstance(n, exp.Column) and n.table else n
        )
    return shown.sql(dialect=SOURCE_DIALECT, normalize_functions="lower")
