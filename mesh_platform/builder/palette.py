"""The builder's palette: every block a step can be made from, read from the registry.

Standard steps, business rules (standard steps of a rule set), SQL functions and step
sequences come from the registry as the standards packages filled it, with the JSON schema
of their parameter models as the block's form; the transforms (`transforms.py`) follow. A
standard registered later appears with no change here: its form is its model's schema, and
its column parameters are found in that schema (`column_fields`), not in a list per standard.

`step_for` turns a block and its parameters into the step dict a spec holds, exactly as a
hand-written spec spells it (`use:`/`with:`, `include:`/`with:`, `sql:`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from mesh_platform.builder import transforms
from mesh_platform.builder.function_blocks import function_model, function_sql, x_field
from mesh_platform.builder.transforms import (
    MANY,
    BlockRefused,
    check_expression,
)
from mesh_platform.errors import SpecError
from mesh_platform.registry import SqlFunction, StandardStepDefinition, check_params, registry
from mesh_platform.spec import sequences
from mesh_platform.spec.sequences import SequenceSpec

__all__ = [
    "Block",
    "BlockRefused",
    "block",
    "check_expression",
    "column_fields",
    "expression_functions",
    "palette",
    "previous_name",
    "step_for",
]

MARK = "x-mesh-column"
_COLUMN_NAMES = re.compile(r"^(columns?|keys?|.*_(columns?|keys?))$")
# "the columns to protect", "the column holding nation", "columns to encrypt"
_MENTIONS_COLUMN = re.compile(r"^\s*(the |a |an )?columns?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    """One palette entry: what it is, its form (a JSON schema) and its column pickers."""

    key: str  # "standard:pseudonymize", "function:mask_partial", "rule:...", "transform:join"
    kind: str  # "standard" | "function" | "rule" | "sequence" | "transform" | "sql"
    title: str
    description: str
    schema: dict[str, Any]
    column_params: tuple[str, ...]  # params whose values are column names (pickers)
    multi_columns: tuple[str, ...]  # of those, the ones taking several columns
    column_maps: tuple[str, ...] = ()  # of those, mappings keyed by column ({old: new})
    version: str = ""
    example: str = ""


def _resolve(prop: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The property's own schema: a `$ref` followed, an optional (`anyOf` with null) unwrapped."""
    if "$ref" in prop:
        prop = {**defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), **prop}
    options = [o for o in prop.get("anyOf", ()) if o.get("type") != "null"]
    if len(options) == 1:
        prop = {**options[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def _column_kind(name: str, prop: dict[str, Any]) -> str | None:
    """ "one", "many", "keys" or None: whether the field holds column names, from its schema."""
    if MARK in prop:  # explicit: "one", "many", "keys", or null (not a column)
        return str(prop[MARK]) if prop[MARK] else None
    kind = {"string": "one"}.get(prop.get("type", ""))
    if prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
        kind = "many"
    if prop.get("type") == "object" and prop.get("additionalProperties", {}).get("type") == (
        "string"
    ):
        kind = "keys"
    if kind is None or "enum" in prop:
        return None
    described = _MENTIONS_COLUMN.search(str(prop.get("description", "")))
    return kind if _COLUMN_NAMES.match(name) or described else None


def column_fields(schema: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """(column params, multi-column params, column maps) of a JSON schema: the fields holding
    column names (marked `x-mesh-column`, or named/described as columns and typed as text,
    lists of text or mappings of text); fields of items of a list are named `list.field`."""
    defs = schema.get("$defs", {})
    found: list[tuple[str, str]] = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(raw, defs)
        kind = _column_kind(name, prop)
        if kind is not None:
            found.append((name, kind))
            continue
        items = _resolve(prop.get("items", {}), defs) if prop.get("type") == "array" else {}
        for sub, sub_raw in items.get("properties", {}).items():
            sub_kind = _column_kind(sub, _resolve(sub_raw, defs))
            if sub_kind is not None:
                found.append((f"{name}.{sub}", sub_kind))
    return (
        tuple(n for n, _ in found),
        tuple(n for n, k in found if k == "many"),
        tuple(n for n, k in found if k == "keys"),
    )


def _block(key: str, kind: str, title: str, description: str, model: type[BaseModel]) -> Block:
    schema = model.model_json_schema(by_alias=True)
    one, many, maps = column_fields(schema)
    return Block(key, kind, title, description, schema, one, many, maps)


def _rule_names() -> set[str]:
    return {r.name for r in registry().rule_sets}


def _standard_block(step: StandardStepDefinition, rules: set[str]) -> Block:
    kind = "rule" if step.name in rules else "standard"
    found = _block(f"{kind}:{step.name}", kind, step.name, step.description, step.params)
    return _with(found, step.version, step.example)


def _with(found: Block, version: str, example: str) -> Block:
    from dataclasses import replace

    return replace(found, version=version, example=example)


def _function_block(function: SqlFunction) -> Block:
    found = _block(
        f"function:{function.name}",
        "function",
        function.signature,
        function.description,
        function_model(function),
    )
    return _with(found, function.version, function.example)


_SEQUENCE_TYPES: dict[str, Any] = {
    "string": (str, {}),
    "number": (float, {}),
    "boolean": (bool, {}),
    "column": (str, transforms.ONE),
    "columns": (list[str], MANY),
    "list": (list[Any], {}),
}


def sequence_model(spec: SequenceSpec) -> type[BaseModel]:
    """The form of a step sequence: its declared parameters."""
    fields: dict[str, Any] = {}
    for name, param in spec.params.items():
        typ, extra = _SEQUENCE_TYPES[param.type]
        optional = param.default is not None or not param.required
        default = param.default if optional else ...
        fields[name] = (typ, Field(default, description=param.description, **x_field(extra)))
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{spec.name.title().replace('_', '')}Params",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        **fields,
    )


def _sequence_block(spec: SequenceSpec) -> Block:
    found = _block(
        f"sequence:{spec.name}", "sequence", spec.name, spec.description, sequence_model(spec)
    )
    return _with(found, spec.version, spec.example)


def _transform_blocks() -> list[Block]:
    return [
        _block(
            f"transform:{name}",
            "sql" if name == "sql" else "transform",
            title,
            (model.__doc__ or "").strip(),
            model,
        )
        for name, (title, model, _writer) in transforms.TRANSFORMS.items()
    ]


def palette(domain_folder: Path | None = None) -> list[Block]:
    """Every block: the registry's standard steps, rules, functions and sequences (with the
    domain's own sequences when `domain_folder` is given), then the transforms."""
    found = registry()
    rules = _rule_names()
    return [
        *(_standard_block(s, rules) for s in found.steps.all()),
        *(_function_block(f) for f in found.functions.all()),
        *(_sequence_block(s) for s in sequences.available(domain_folder)),
        *_transform_blocks(),
    ]


def block(key: str, domain_folder: Path | None = None) -> Block:
    """The block `key`; BlockRefused naming the known keys if there is none."""
    blocks = {b.key: b for b in palette(domain_folder)}
    if key not in blocks:
        raise BlockRefused(f"unknown block {key!r}; the palette has: {', '.join(blocks)}")
    return blocks[key]


def step_for(
    key: str,
    params: Mapping[str, Any],
    columns: list[str],
    inputs: Mapping[str, Sequence[str]],
    *,
    previous: str | None = None,
    domain_folder: Path | None = None,
) -> dict[str, Any]:
    """The spec's step dict for block `key` with `params`, placed after a step whose result
    has `columns`. `inputs`: what the step can read (input ports, then earlier steps, each
    with its columns); `previous`: the name of the result it transforms (`previous_name`: the
    previous step's `step_<n>` or declared name, or an input port for a first step), by
    default the last of `inputs` whose columns are `columns`. BlockRefused when the
    parameters cannot make a valid step."""
    kind, _, name = key.partition(":")
    if kind in ("standard", "rule"):
        return _use_step(key, name, params, columns, domain_folder)
    if kind == "sequence":
        return _include_step(name, params, domain_folder)
    source = previous or _default_previous(key, columns, inputs)
    if kind == "function":
        return {"sql": function_sql(name, params, source, columns)}
    if kind == "transform" and name in transforms.TRANSFORMS:
        return {"sql": transforms.transform_sql(name, params, source, columns, inputs)}
    raise BlockRefused(f"unknown block {key!r}")


def _default_previous(key: str, columns: list[str], inputs: Mapping[str, Sequence[str]]) -> str:
    """The last of `inputs` with exactly `columns` (ports first, then earlier steps)."""
    if not inputs:
        raise BlockRefused(f"block {key!r} needs an input to read: add an input first")
    matching = [name for name, cols in inputs.items() if list(cols) == list(columns)]
    if not matching:
        raise BlockRefused(
            f"block {key!r}: which result does it read? none of {', '.join(inputs)} has the "
            "columns given; pass `previous` (see `previous_name`)"
        )
    return matching[-1]


def _use_step(
    key: str,
    name: str,
    params: Mapping[str, Any],
    columns: list[str],
    domain_folder: Path | None,
) -> dict[str, Any]:
    definition = registry().steps.get(name)
    if definition is None:
        raise BlockRefused(f"unknown standard step {name!r}")
    try:
        parsed = check_params(definition, params)
    except ValueError as exc:
        raise BlockRefused(str(exc)) from None
    given = parsed.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    _check_columns(block(key, domain_folder), given, columns)
    return {"use": name, "with": given} if given else {"use": name}


def _check_columns(found: Block, given: Mapping[str, Any], columns: list[str]) -> None:
    """Column parameters name columns of the previous result (when its columns are known)."""
    if not columns:
        return
    for param in found.column_params:
        value = given.get(param)
        names = list(value) if isinstance(value, list | dict) else [value] if value else []
        missing = [n for n in names if n not in columns]
        if missing:
            raise BlockRefused(
                f"{found.title}: `{param}` names unknown column(s) {', '.join(map(str, missing))}"
                f"; available: {', '.join(columns)}"
            )


def _include_step(
    name: str, params: Mapping[str, Any], domain_folder: Path | None
) -> dict[str, Any]:
    found = sequences.find_sequence(name, domain_folder)
    if found is None:
        raise BlockRefused(f"unknown step sequence {name!r}")
    given = {k: v for k, v in params.items() if v is not None}
    try:
        sequences.render(found[0], given)
    except ValueError as exc:
        raise BlockRefused(str(exc)) from None
    return {"include": name, "with": given} if given else {"include": name}


def previous_name(
    steps: Sequence[Mapping[str, Any]],
    index: int,
    inputs: Mapping[str, Any],
    domain_folder: Path | None = None,
) -> str:
    """The name of the result step `index` of `steps` reads, as the planner names it: the
    previous step's declared `name:`, else `step_<n>` counting the steps an `include:` expands
    to; for the first step, the first input port. Pass it to `step_for(previous=...)`."""
    if index <= 0:
        if not inputs:
            raise BlockRefused("the first step reads an input: add an input first")
        return next(iter(inputs))
    folder = domain_folder or Path("domains", "_", "")
    try:
        expanded, _ = sequences.expand(
            [dict(s) for s in steps[:index]], folder / "products" / "_.yaml", lambda _i: None
        )
    except SpecError:  # an include that does not expand yet: count it as one step
        expanded = [dict(s) for s in steps[:index]]
    last = expanded[-1]
    declared = last.get("name") if isinstance(last, dict) else None
    return str(declared) if declared else f"step_{len(expanded)}"


def expression_functions() -> list[dict[str, str]]:
    """The platform's SQL functions an expression may call, for the expression editor's list
    (name, signature, description, example); Spark SQL's built-ins are callable too."""
    return [
        {
            "name": f.name,
            "signature": f.signature,
            "description": f.description,
            "example": f.example,
        }
        for f in registry().functions.all()
        if not f.reveals  # decrypt_det: only where the access policy grants it
    ]
