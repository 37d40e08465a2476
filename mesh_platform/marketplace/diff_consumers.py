"""The right fix for a consumer a producer's change breaks: it must change its SQL (the file,
line and column it reads), not its version; and an auto-named rule that follows a renamed
column is the same rule, not a second breaking change."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mesh_platform.marketplace.diff_changes import Change
from mesh_platform.spec.model import SqlStep

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.quality import QualityRule

# The column changes a consumer's SQL may have to follow.
SQL_BREAKING = ("column removed", "column renamed", "type narrowed")


def renames(changes: list[Change]) -> dict[str, str]:
    """`old -> new` column names of the renames among `changes`."""
    found = {}
    for change in changes:
        if change.kind == "column renamed" and change.column:
            found[change.column] = change.detail.partition(" -> ")[2]
    return found


def follow_renames(
    old: tuple[QualityRule, ...], renamed: dict[str, str]
) -> tuple[QualityRule, ...]:
    """`old`'s rules as they read after `renamed`: an auto-named rule (no `name:`) on a renamed
    column gets the new column, hence the new check name (the rename itself is the break)."""
    moved = []
    for rule in old:
        if rule.name is None and set(rule.target_columns) & set(renamed):
            update: dict[str, object] = {}
            if rule.column in renamed:
                update["column"] = renamed[rule.column]
            if rule.columns:
                update["columns"] = tuple(renamed.get(c, c) for c in rule.columns)
            rule = rule.model_copy(update=update)
        moved.append(rule)
    return tuple(moved)


def sql_uses(source: ProductSource, upstream: str, column: str) -> list[str]:
    """Where `source`'s SQL reads `column` of its input `upstream` (`domain.product`): one
    `file:line` per step line naming the column."""
    ports = [port for port, ref in source.spec.input_refs().items() if ".".join(ref) == upstream]
    if not ports:
        return []
    pattern = re.compile(rf"\b{re.escape(column)}\b", re.IGNORECASE)
    found = []
    for index, step in enumerate(source.spec.steps):
        if not isinstance(step, SqlStep):
            continue
        start = source.sql_start_line(index) or source.line_of("steps", index)
        for offset, text in enumerate(step.sql.splitlines()):
            if pattern.search(text):
                line = f":{start + offset}" if start else ""
                found.append(f"{_shown(source)}{line}")
    return found


def sql_fixes(base: Mesh, upstream: str, changes: tuple[Change, ...], reader: str) -> list[str]:
    """What `reader` (a direct reader of `upstream` in `base`) must change in its SQL for
    `changes`: `file:line reads upstream.column (renamed to x | removed | narrowed)`."""
    source = base.products.get(tuple(reader.split(".", 1)))  # type: ignore[arg-type]
    if source is None:
        return []
    lines = []
    for change in changes:
        if change.kind not in SQL_BREAKING or not change.column:
            continue
        what = {
            "column renamed": f"renamed to {change.detail.partition(' -> ')[2]}",
            "column removed": "removed",
            "type narrowed": f"type narrowed ({change.detail.partition(': ')[2]})",
        }[change.kind]
        for where in sql_uses(source, upstream, change.column):
            lines.append(f"{where} reads {upstream}.{change.column} ({what})")
    return lines


def _shown(source: ProductSource) -> str:
    parts = source.path.parts
    if "domains" in parts:
        return "/".join(parts[parts.index("domains") :])
    return str(source.path)
