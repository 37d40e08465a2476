"""Forms generated from a palette block's JSON schema, and their answers read back as params.

A block's parameters are a pydantic model's JSON schema (`builder.palette.Block.schema`):
each property becomes a field by its type (text, number, enum, boolean, list), a column
parameter a picker over the columns available at that step (several at once where the block
takes several), and a list of objects (an aggregate's measures) a few rows of sub-fields.
Field names are `p.<param>` (`p.<param>.<row>.<field>` for rows), so nothing else in the form
is taken for a parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PREFIX = "p."
ROWS = 4  # rows offered for a list of objects (measures, renames)


@dataclass(frozen=True)
class Field:
    """One form field of a block's parameter."""

    name: str  # the parameter
    label: str
    widget: str  # text | number | integer | boolean | enum | columns | column | list | rows | json
    description: str = ""
    required: bool = False
    value: Any = None  # the current value (a step's, else the default)
    choices: tuple[str, ...] = ()  # enum values, or the columns of a picker
    rows: tuple[tuple[Field, ...], ...] = ()  # widget "rows": each row's sub-fields
    expression: bool = False  # checked as you type against the columns (check_expression)
    extra: dict[str, Any] = field(default_factory=dict)


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    """`prop` with a `$ref` followed and an `anyOf [X, null]` (an Optional) reduced to X."""
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        prop = {
            **schema.get("$defs", {}).get(name, {}),
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    options = prop.get("anyOf") or prop.get("oneOf")
    if options:
        kept = [_resolve(schema, o) for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            prop = {**kept[0], **{k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}}
    return prop


def _widget(prop: dict[str, Any]) -> str:
    column = prop.get("x-mesh-column")
    if column in ("one", "many", "keys"):
        return {"one": "column", "many": "columns", "keys": "mapping"}[str(column)]
    if prop.get("x-mesh-input"):
        return "input"
    if "enum" in prop:
        return "enum"
    kind = prop.get("type")
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "number"):
        return str(kind)
    if kind == "array":
        items = prop.get("items", {})
        return "rows" if items.get("type") == "object" or "$ref" in items else "list"
    if kind == "object":
        return "json"
    return "text"


# Parameter names taken for expressions when the schema does not mark them.
EXPRESSION_PARAMS = ("expression", "condition")


def fields_for(
    block: Any,
    columns: list[str],
    inputs: dict[str, list[str]] | None = None,
    values: dict[str, Any] | None = None,
) -> list[Field]:
    """The form of `block` (a palette Block) over the previous result's `columns` and the
    `inputs`' columns, with `values` filled in (else the defaults)."""
    schema: dict[str, Any] = block.schema or {}
    required = set(schema.get("required", ()))
    values, inputs = values or {}, inputs or {}
    joined = sorted({c for cols in inputs.values() for c in cols})
    found = []
    for name, raw in (schema.get("properties") or {}).items():
        prop = _resolve(schema, raw)
        widget = _widget(prop)
        if name in getattr(block, "column_maps", ()):
            widget = "mapping"
        elif name in block.multi_columns:
            widget = "columns"
        elif name in block.column_params and widget not in ("columns", "mapping"):
            widget = "column"
        of_input = prop.get("x-mesh-of") == "input"
        choices: tuple[str, ...] = ()
        if widget in ("column", "columns", "mapping"):
            choices = tuple(joined if of_input else columns)
        elif widget == "input":
            choices = tuple(inputs)
        elif widget == "enum":
            choices = tuple(str(v) for v in prop.get("enum", ()))
        value = values.get(name, prop.get("default"))
        found.append(
            Field(
                name=name,
                label=str(prop.get("title") or name.replace("_", " ")),
                widget=widget,
                description=str(prop.get("description") or ""),
                required=name in required,
                value=value,
                choices=choices,
                rows=_rows(schema, prop, columns, value, widget),
                expression=bool(prop.get("x-mesh-expression"))
                or (name in EXPRESSION_PARAMS and widget == "text"),
            )
        )
    return found


def _rows(
    schema: dict[str, Any], prop: dict[str, Any], columns: list[str], value: Any, widget: str
) -> tuple[tuple[Field, ...], ...]:
    """The rows of a list of objects (each object's fields) or of a mapping (key, value)."""
    if widget == "mapping":
        given = list(value.items()) if isinstance(value, dict) else []
        return tuple(
            (
                Field(f"{i}.key", "column", "column", value=k, choices=tuple(columns)),
                Field(f"{i}.value", "new name", "text", value=v),
            )
            for i, (k, v) in enumerate([*given, *[("", "")] * ROWS][: max(ROWS, len(given) + 1)])
        )
    if widget != "rows":
        return ()
    item = _resolve(schema, prop.get("items", {}))
    current = value if isinstance(value, list) else []
    rows = []
    for i in range(max(ROWS, len(current) + 1)):
        given_row = current[i] if i < len(current) and isinstance(current[i], dict) else {}
        cells = []
        for name, raw in (item.get("properties") or {}).items():
            sub = _resolve(schema, raw)
            sub_widget = _widget(sub)
            cells.append(
                Field(
                    name=f"{i}.{name}",
                    label=str(sub.get("title") or name),
                    widget=sub_widget,
                    value=given_row.get(name, sub.get("default") if i < 1 else None),
                    choices=tuple(columns)
                    if sub_widget == "column"
                    else tuple(map(str, sub.get("enum", ()))),
                )
            )
        rows.append(tuple(cells))
    return tuple(rows)


def _convert(widget: str, text: str) -> Any:
    if widget == "integer":
        return int(text)
    if widget == "number":
        return float(text)
    if widget == "json":
        return json.loads(text)
    if widget == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def params_from(form: Any, fields: list[Field]) -> dict[str, Any]:
    """The params a submitted form gives for `fields` (a form's multi-dict: `getlist`).
    Empty optional fields are left out, so the block's defaults apply. Raises ValueError
    naming the field whose text is not of its type."""
    params: dict[str, Any] = {}
    for f in fields:
        key = PREFIX + f.name
        try:
            if f.widget == "boolean":
                params[f.name] = form.get(key) in ("on", "true", "1")
                continue
            if f.widget == "columns":
                chosen = [str(v) for v in form.getlist(key) if str(v).strip()]
                if chosen or f.required:
                    params[f.name] = chosen
                continue
            if f.widget in ("rows", "mapping"):
                rows = _rows_from(form, key, f)
                if f.widget == "mapping":
                    if rows:
                        params[f.name] = {r["key"]: r.get("value", "") for r in rows if "key" in r}
                elif rows or f.required:
                    params[f.name] = rows
                continue
            text = str(form.get(key, "")).strip()
            if text:
                params[f.name] = _convert(f.widget, text)
        except ValueError as exc:
            raise ValueError(f"{f.label}: {exc}") from None
    return params


def _rows_from(form: Any, key: str, f: Field) -> list[dict[str, Any]]:
    """The filled rows (a row whose only answers are choices, e.g. `fn: sum`, is empty)."""
    rows = []
    for cells in f.rows:
        row: dict[str, Any] = {}
        typed = False
        for cell in cells:
            text = str(form.get(f"{key}.{cell.name}", "")).strip()
            if text:
                row[cell.name.split(".", 1)[1]] = _convert(cell.widget, text)
                typed = typed or cell.widget not in ("enum", "boolean")
        if typed:
            rows.append(row)
    return rows


def step_params(step: dict[str, Any]) -> dict[str, Any]:
    """The params an existing step was written with (a standard's `with:`)."""
    given = step.get("with")
    return dict(given) if isinstance(given, dict) else {}
