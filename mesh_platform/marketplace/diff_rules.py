"""Quality rule changes between two versions of a contract: removed or loosened rules break
what consumers were promised; new or tightened ones do not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesh_platform.marketplace.diff_changes import Change

if TYPE_CHECKING:
    from mesh_platform.spec.quality import QualityRule


def rule_changes(old: tuple[QualityRule, ...], new: tuple[QualityRule, ...]) -> list[Change]:
    """Each rule removed, loosened, tightened, changed or added, by the rule's check name."""
    before = {r.check_name: r for r in old}
    after = {r.check_name: r for r in new}
    changes: list[Change] = []
    for name, was in before.items():
        now = after.get(name)
        column = was.column if len(was.target_columns) == 1 else None
        if now is None:
            if was.rule == "not_null" and was.severity == "error":
                changes.append(Change("column made nullable", True, f"{name} removed", column))
            else:
                changes.append(Change("rule removed", True, name, column))
        elif now != was:
            changes.append(_changed(name, was, now, column))
    changes += [Change("rule added", False, name) for name in after if name not in before]
    return changes


def _changed(name: str, was: QualityRule, now: QualityRule, column: str | None) -> Change:
    if was.model_copy(update={"description": now.description}) == now:
        return Change("rule description changed", False, name, column)
    if was.severity == "error" and now.severity == "warn":
        kind = "column made nullable" if was.rule == "not_null" else "rule loosened"
        return Change(kind, True, f"{name}: severity error -> warn (no longer blocks)", column)
    looser = _looser(was, now)
    if looser is None:
        return Change("rule changed", True, f"{name}: cannot tell whether it is looser", column)
    if looser:
        return Change("rule loosened", True, f"{name}: {_bounds(was)} -> {_bounds(now)}", column)
    return Change("rule tightened", False, f"{name}: {_bounds(was)} -> {_bounds(now)}", column)


def _looser(was: QualityRule, now: QualityRule) -> bool | None:
    """True if `now` accepts data `was` refused; None when that cannot be told."""
    if was.rule != now.rule or was.target_columns != now.target_columns:
        return None
    if was.rule in ("between", "row_count"):
        lower = was.min is not None and (now.min is None or now.min < was.min)
        upper = was.max is not None and (now.max is None or now.max > was.max)
        return lower or upper
    if was.rule == "accepted_values":
        return not set(now.values) <= set(was.values)
    if was.rule in ("not_null", "unique"):
        return False  # same rule, same columns: only the description or severity changed
    return None


def _bounds(rule: QualityRule) -> str:
    if rule.rule == "accepted_values":
        return str(list(rule.values))
    return f"[{rule.min}, {rule.max}]"
