"""The builder page's edits: each `op` of a POST to `/build/<domain>/<product>/edit`, applied to
the draft (`builder.draft.Draft`) the request carries. Each returns the node to select after
it (None: the last step). Nothing here writes a file: only Save does (`Draft.save`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData

from mesh_platform.web.builder_forms import fields_for, params_from
from mesh_platform.web.builder_view import split_list

if TYPE_CHECKING:
    from mesh_platform.builder.draft import Draft

Edit = Callable[[Any, "Draft", FormData], "int | None"]


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _index(form: FormData, name: str = "index") -> int:
    try:
        return int(_text(form, name))
    except ValueError:
        raise ValueError(f"the form's {name!r} is not a step number") from None


def add_input(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Read a product (`domain.product`) on a new input port (its name, or the product's)."""
    product = _text(form, "product")
    if "." not in product:
        raise ValueError("choose the product to read (domain.product)")
    domain, name = product.split(".", 1)
    port = _text(form, "port") or name
    draft.set_input(port, name if domain == draft.domain else product)
    return None


def remove_input(pages: Any, draft: Draft, form: FormData) -> int | None:
    draft.remove_input(_text(form, "port"))
    return None


def request_access(pages: Any, draft: Draft, form: FormData) -> int | None:
    """File the subscription request a cross-domain input needs (as `mesh subscribe`)."""
    from mesh_platform.builder.subscribing import request_access as request

    product = _text(form, "product")
    purpose = _text(form, "purpose") or f"input of {draft.domain}.{draft.name}"
    request(pages.root, draft.domain, product, purpose)
    return None


def _step(draft: Draft, form: FormData) -> dict[str, Any]:
    """The step the block form describes (its params read by the block's generated form)."""
    from mesh_platform.builder.palette import block, step_for

    key = _text(form, "key")
    columns = [c for c in _text(form, "columns").split(",") if c]
    inputs = json.loads(_text(form, "inputs") or "{}")
    folder = draft.root / "domains" / draft.domain
    fields = fields_for(block(key, folder), columns, inputs)
    params = params_from(form, fields)
    previous = _text(form, "previous") or None
    return dict(step_for(key, params, columns, inputs, previous=previous, domain_folder=folder))


def add_step(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Add the block's step at `at` (default: the end)."""
    step = _step(draft, form)
    at = _text(form, "at")
    position = int(at) if at else None
    draft.add_step(step, position)
    return position if position is not None else len(draft.steps()) - 1


def update_step(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Replace step `index` by the block form's step (its `name:` kept)."""
    index = _index(form)
    old = draft.steps()[index]
    step = _step(draft, form)
    if "name" in old and "name" not in step:
        step = {"name": old["name"], **step}
    draft.update_step(index, step)
    return index


def remove_step(pages: Any, draft: Draft, form: FormData) -> int | None:
    draft.remove_step(_index(form))
    return None


def move_step(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Move step `index` to position `to` (drag and drop, or the up / down buttons)."""
    index, to = _index(form), _index(form, "to")
    draft.move_step(index, to)
    return to


def contract(pages: Any, draft: Draft, form: FormData) -> int | None:
    """The product's description, visibility, version, owners and freshness SLA."""
    draft.set("description", _text(form, "description"))
    draft.set("visibility", _text(form, "visibility") or "internal")
    version = _text(form, "version")
    draft.set("version", version or None)
    owners = split_list(_text(form, "owners"))
    draft.set("owners", owners or None)
    hours = _text(form, "freshness")
    draft.set("freshness", {"max_age_hours": float(hours)} if hours else None)
    tags = split_list(_text(form, "tags"))
    if tags:
        draft.set("tags", {t.partition(":")[0]: t.partition(":")[2] for t in tags})
    return None


def schedule(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Eager, daily at, weekly on, monthly on day, or manual: the cron and automation."""
    day = _text(form, "day")
    draft.set_schedule(
        _text(form, "kind") or "manual",
        time=_text(form, "time") or "06:00",
        weekday=_text(form, "weekday") or None,
        day=int(day) if day else None,
    )
    return None


def writes(pages: Any, draft: Draft, form: FormData) -> int | None:
    """How a run writes the table: the write mode, its keys and deletions, and incremental
    by time (docs/incremental.md); `mesh validate`'s checks show what cannot work."""
    mode = _text(form, "write") or "overwrite"
    draft.set("write", None if mode == "overwrite" else mode)
    keys = split_list(_text(form, "keys"))
    draft.set("keys", keys if keys and mode in ("merge", "scd2") else None)
    deleting = _text(form, "delete_when")
    draft.set("delete_when", deleting if deleting and mode == "merge" else None)
    column_name, lookback = _text(form, "incremental_column"), _text(form, "lookback")
    incremental = {"column": column_name, "lookback": lookback or "0"} if column_name else None
    draft.set("incremental", incremental)
    return None


def column(pages: Any, draft: Draft, form: FormData) -> int | None:
    """A contract column's description and tags."""
    draft.set_column(
        _text(form, "column"),
        description=_text(form, "description"),
        tags=split_list(_text(form, "tags")),
    )
    return None


def declare_columns(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Declare the product's columns as the preview of its last step gives them (types, tags):
    a published product is read through its declared contract."""
    from mesh_platform.builder.preview import preview_draft

    last = len(draft.steps()) - 1
    nodes = {n.index: n for n in preview_draft(draft, count=False) if n.index >= 0}
    found = [n for i in (last, last + 1) if (n := nodes.get(i)) is not None and n.columns]
    if not found:
        raise ValueError("the last step has no preview to take the columns from: fix it first")
    for col in found[0].columns:
        draft.set_column(col.name, type=col.type, tags=list(col.tags) or None)
    return None


def _quality(draft: Draft) -> list[dict[str, Any]]:
    from mesh_platform.web.builder_view import spec_of

    return [dict(r) for r in spec_of(draft.text()).get("quality") or ()]


RULE_FIELDS = ("column", "min", "max", "pattern", "sql", "name", "severity")


def add_rule(pages: Any, draft: Draft, form: FormData) -> int | None:
    """Add a quality rule of a type, with its parameters."""
    rule: dict[str, Any] = {"rule": _text(form, "rule")}
    for name in RULE_FIELDS:
        value = _text(form, f"rule_{name}")
        if value:
            rule[name] = float(value) if name in ("min", "max") else value
    if _text(form, "rule_values"):
        rule["values"] = split_list(_text(form, "rule_values"))
    if rule.get("severity") == "error":
        del rule["severity"]
    for bound in ("min", "max"):
        if isinstance(rule.get(bound), float) and float(rule[bound]).is_integer():
            rule[bound] = int(rule[bound])
    draft.set_quality([*_quality(draft), rule])
    return None


def remove_rule(pages: Any, draft: Draft, form: FormData) -> int | None:
    rules = _quality(draft)
    del rules[_index(form)]
    draft.set_quality(rules)
    return None


EDITS: dict[str, Edit] = {
    edit.__name__: edit
    for edit in (
        add_input,
        remove_input,
        request_access,
        add_step,
        update_step,
        remove_step,
        move_step,
        contract,
        schedule,
        writes,
        column,
        declare_columns,
        add_rule,
        remove_rule,
    )
}
