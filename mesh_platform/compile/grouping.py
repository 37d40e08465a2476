"""GROUP BY completeness, checked as Spark checks it, on the qualified query."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import build_scope

from mesh_platform.compile import functions
from mesh_platform.compile.sql import SqlProblem, line_of_node


def check_grouping(qualified: exp.Query, sql: str) -> None:
    """Refuse a column that an aggregating SELECT neither groups by nor aggregates.

    Spark refuses such a query ("expression ... is neither present in the group by, nor is it
    an aggregate function"); DuckDB and sqlglot would let some of them through. Runs on the
    qualified query, where aliases and ordinals in GROUP BY are already expanded and every
    column names its source: an unqualified column is a reference to a select alias.
    """
    root = build_scope(qualified)
    if root is None:
        return
    for scope in root.traverse():
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        group = select.args.get("group")
        if group is not None and group.args.get("all"):
            continue  # GROUP BY ALL (Spark 3.4+) groups by every non-aggregate select item
        items = [*select.expressions, select.args.get("having"), select.args.get("order")]
        present = [item for item in items if item is not None]
        if group is None and not any(_has_aggregate(item) for item in present):
            continue
        grouped = _grouped(group) if group is not None else []
        sources = set(scope.selected_sources)
        for item in present:
            column = _ungrouped(item, grouped, sources)
            if column is not None:
                name = column.name
                raise SqlProblem(
                    f"column {name!r} is neither in GROUP BY nor inside an aggregate function",
                    line_of_node(sql, column, name),
                    f"add {name} to GROUP BY, or aggregate it (e.g. max({name}))",
                )


def _grouped(group: exp.Group) -> list[exp.Expression]:
    """The expressions a GROUP BY groups by, through ROLLUP, CUBE and GROUPING SETS."""
    found: list[exp.Expression] = []

    def add(node: exp.Expression) -> None:
        if isinstance(node, exp.Rollup | exp.Cube | exp.GroupingSets | exp.Tuple | exp.Paren):
            for part in node.iter_expressions():
                add(part)
        else:
            found.append(node)

    for part in group.iter_expressions():
        add(part)
    return found


def _is_windowed(node: exp.Expression) -> bool:
    """Whether `node` is the function of an OVER (...) (a window, not a group aggregate)."""
    return isinstance(node.parent, exp.Window) and node.arg_key == "this"


def _aggregates(node: exp.Expression) -> bool:
    if isinstance(node, exp.Filter | exp.WithinGroup | exp.IgnoreNulls | exp.RespectNulls):
        node = node.this  # `count(*) FILTER (WHERE ...)` and the like aggregate as a whole
    return functions.is_aggregate(node) and not _is_windowed(node)


def _has_aggregate(node: exp.Expression) -> bool:
    """Whether `node` aggregates rows of its own SELECT (not a nested query, not a window)."""
    if isinstance(node, exp.Query):
        return False
    if _aggregates(node):
        return True
    return any(_has_aggregate(child) for child in node.iter_expressions())


def _ungrouped(
    node: exp.Expression, grouped: list[exp.Expression], sources: set[str]
) -> exp.Column | None:
    """The first column of `node` outside GROUP BY's expressions and outside any aggregate."""
    if isinstance(node, exp.Query) or node in grouped or _aggregates(node):
        return None
    if isinstance(node, exp.Window):
        # The window function's arguments are per-group values, so they must be grouped or
        # aggregated; PARTITION BY and ORDER BY inside OVER (...) are not checked (kept simple).
        for child in node.this.iter_expressions():
            found = _ungrouped(child, grouped, sources)
            if found is not None:
                return found
        return None
    if isinstance(node, exp.Column):
        # An unqualified column is a select alias; another scope's table is an outer reference.
        return node if node.table in sources else None
    for child in node.iter_expressions():
        found = _ungrouped(child, grouped, sources)
        if found is not None:
            return found
    return None
