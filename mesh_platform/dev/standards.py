"""The discoverable list of standards (`mesh standards`): steps, sequences, SQL functions, rules."""

from __future__ import annotations

from typing import Any

from mesh_platform.engine.registry import available_engines, default_engine, engine_kinds
from mesh_platform.registry import registry
from mesh_platform.spec import sequences

SECTIONS = (
    ("step", "Standard steps (`- use: <name>`)"),
    ("sequence", "Step sequences (`- include: <name>`)"),
    ("function", "SQL functions (in `sql:` steps)"),
    ("rule", "Business rules (decision tables in standards/rules/)"),
    ("engine", "Engines (`engine: <name>` in a spec)"),
)


def catalog() -> list[dict[str, Any]]:
    """Every standard with kind, name, version, description, parameters and example."""
    found = registry()
    rows: list[dict[str, Any]] = [
        {
            "kind": "step",
            "name": s.name,
            "version": s.version,
            "description": s.description,
            "parameters": s.params.model_json_schema().get("properties", {}),
            "example": s.example,
        }
        for s in found.steps.all()
    ]
    rows += [
        {
            "kind": "sequence",
            "name": q.name,
            "version": q.version,
            "description": q.description,
            "parameters": {n: p.model_dump() for n, p in q.params.items()},
            "example": q.example,
        }
        for q in sequences.available()
    ]
    rows += [
        {
            "kind": "function",
            "name": f.name,
            "version": f.version,
            "description": f.description + (" Needs the keys resource." if f.keyed else ""),
            "parameters": {"signature": f.signature},
            "example": f.example,
        }
        for f in found.functions.all()
    ]
    rows += [
        {
            "kind": "rule",
            "name": r.name,
            "version": r.version,
            "description": r.description,
            "parameters": {name: list(inputs) for name, inputs in r.functions.items()},
            "example": f"- use: {r.name}  # or the SQL functions " + ", ".join(r.functions),
        }
        for r in found.rule_sets
    ]
    rows += [
        {
            "kind": "engine",
            "name": name,
            "version": "",
            "description": f"runs steps with {', '.join(engine_kinds(name))}"
            + (" (the default)" if name == default_engine() else ""),
            "parameters": {},
            "example": f"engine: {name}",
        }
        for name in available_engines()
    ]
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The catalog as text, one section per kind."""
    parts = []
    for kind, title in SECTIONS:
        entries = [r for r in rows if r["kind"] == kind]
        if not entries:
            continue
        body = "\n\n".join(
            f"{r['name']} {r['version']}: {r['description']}\n  parameters: "
            f"{r['parameters'].get('signature') or ', '.join(r['parameters']) or '-'}"
            "\n  example:\n    " + str(r["example"]).replace("\n", "\n    ")
            for r in entries
        )
        parts.append(f"== {title} ==\n\n{body}")
    return "\n\n".join(parts)
