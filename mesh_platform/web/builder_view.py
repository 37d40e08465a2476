"""What the builder page shows of a draft: its input and step nodes, its contract fields and
its schedule as the form's choices, read from the draft's YAML text (the draft writes; this
only reads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from starlette.responses import HTMLResponse, Response

from mesh_platform.errors import MeshError, SpecError

if TYPE_CHECKING:
    from mesh_platform.builder.draft import Draft
    from mesh_platform.builder.preview import NodePreview

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SCHEDULE_KINDS = ("eager", "daily", "weekly", "monthly", "manual")
RULES = ("not_null", "unique", "accepted_values", "between", "regex", "row_count", "sql")


@dataclass(frozen=True)
class InputNode:
    """An input port of the draft: the product it reads and the subscription's state."""

    port: str
    ref: str  # as written: "product" (same domain) or "domain.product"
    product: str  # domain.product
    state: str  # approved | requested | denied | revoked | none | own


@dataclass(frozen=True)
class StepNode:
    """A step of the draft as the graph shows it."""

    index: int
    kind: str  # sql | use | include | sequence | python
    title: str
    summary: str
    step: dict[str, Any]


def spec_of(text: str) -> dict[str, Any]:
    """The draft's YAML as plain data (empty when it does not parse: validate says why)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def input_nodes(domain: str, inputs: dict[str, str], state: Any) -> list[InputNode]:
    """The input nodes; `state(product)` gives a cross-domain input's subscription state."""
    nodes = []
    for port, ref in inputs.items():
        product = ref if "." in ref else f"{domain}.{ref}"
        own = product.split(".", 1)[0] == domain
        nodes.append(InputNode(port, ref, product, "own" if own else str(state(product))))
    return nodes


def step_nodes(steps: list[dict[str, Any]]) -> list[StepNode]:
    """The step nodes, each with a title and a one-line summary."""
    nodes = []
    for index, step in enumerate(steps):
        kind = next((k for k in ("sql", "use", "include", "sequence", "python") if k in step), "")
        if kind == "sql":
            text = " ".join(str(step["sql"]).split())
            title, summary = "SQL", text[:90] + ("..." if len(text) > 90 else "")
        elif kind in ("use", "include"):
            given = step.get("with") or {}
            title = str(step[kind])
            summary = ", ".join(f"{k}: {v}" for k, v in dict(given).items())[:90]
        else:
            title, summary = kind or "step", str(step.get(kind, ""))[:90]
        if step.get("name"):
            title = f"{title} ({step['name']})"
        nodes.append(StepNode(index, kind, title, summary, step))
    return nodes


def step_block_key(step: dict[str, Any], keys: set[str]) -> str | None:
    """The palette block a step was made from, when it says (`use:`, `include:`)."""
    for kind in ("use", "include", "sequence"):
        name = step.get(kind)
        if isinstance(name, str):
            for prefix in ("standard", "rule", "sequence", "function"):
                if f"{prefix}:{name}" in keys:
                    return f"{prefix}:{name}"
    return None


def schedule_form(spec: dict[str, Any]) -> dict[str, Any]:
    """The schedule form's answers for the draft's `schedule` / `automation`."""
    cron = str(spec.get("schedule") or "")
    answers: dict[str, Any] = {"kind": "manual", "time": "06:00", "weekday": "mon", "day": 1}
    answers["cron"] = cron
    if not cron:
        answers["kind"] = "eager" if spec.get("automation") == "eager" else "manual"
        return answers
    parts = cron.split()
    if len(parts) == 5 and parts[0].isdigit() and parts[1].isdigit() and parts[3] == "*":
        answers["time"] = f"{int(parts[1]):02d}:{int(parts[0]):02d}"
        if parts[2] == "*" and parts[4] == "*":
            answers["kind"] = "daily"
        elif parts[2] == "*" and parts[4].isdigit():
            answers["kind"], answers["weekday"] = "weekly", WEEKDAYS[int(parts[4]) % 7]
        elif parts[2].isdigit() and parts[4] == "*":
            answers["kind"], answers["day"] = "monthly", int(parts[2])
        else:
            answers["kind"] = "cron"
    else:
        answers["kind"] = "cron"
    return answers


def input_choices(root: Path, domain: str) -> list[str]:
    """Products an input can read: every product of the domain, published ones of others."""
    from mesh_platform.loader.mesh import MeshSpecs

    specs = MeshSpecs.load(root)
    return sorted(
        f"{d}.{p}"
        for (d, p), source in specs.products.items()
        if d == domain or getattr(source.spec, "visibility", "") == "published"
    )


def contract_columns(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The declared columns, each with its description, type and tags."""
    found = []
    for column in spec.get("columns") or ():
        if isinstance(column, dict) and column.get("name"):
            found.append(
                {
                    "name": str(column["name"]),
                    "type": str(column.get("type") or ""),
                    "description": str(column.get("description") or ""),
                    "tags": ", ".join(str(t) for t in column.get("tags") or ()),
                }
            )
    return found


def owners_text(spec: dict[str, Any]) -> str:
    owners = spec.get("owners")
    if not owners:
        return ""
    return ", ".join(str(o) for o in owners) if isinstance(owners, list) else str(owners)


def split_list(text: str) -> list[str]:
    """`a, b c` -> [a, b, c]: a list typed in one field."""
    return [part for part in text.replace(",", " ").split() if part]


# --- the page's helpers -----------------------------------------------------------------


def validate(draft: Draft) -> list[SpecError | str]:
    try:
        return list(draft.validate())
    except MeshError as exc:
        return [str(exc)]


def preview(draft: Draft) -> list[NodePreview]:
    from mesh_platform.builder.preview import preview_draft

    return preview_draft(draft, count=False)  # forms need samples and columns, not counts


def available_columns(
    draft: Draft, before: int, folder: Path
) -> tuple[str, list[str], dict[str, list[str]]]:
    """What step `before` can read: the name of the result it transforms (as the planner names
    it), that result's columns, and every input and earlier step with its columns."""
    from mesh_platform.builder.palette import previous_name

    nodes = preview(draft)
    steps = draft.steps()
    ports = sorted((n for n in nodes if n.index < 0), key=lambda n: -n.index)
    readable = {n.step: [c.name for c in n.columns] for n in ports}
    for port, ref in draft.inputs().items():
        if not readable.get(port):  # no preview of the inputs yet (a draft with no step)
            readable[port] = declared_columns(draft.root, draft.domain, ref)
    for n in sorted(nodes, key=lambda n: n.index):
        if 0 <= n.index < min(before, len(steps)):
            readable[n.step] = [c.name for c in n.columns]
    if not draft.inputs():
        return "", [], readable
    previous = previous_name(steps, min(before, len(steps)), draft.inputs(), folder)
    return previous, list(readable.get(previous, [])), readable


def declared_columns(root: Path, domain: str, ref: str) -> list[str]:
    """The columns an input product declares (its contract), [] when it declares none."""
    from mesh_platform.loader.mesh import MeshSpecs

    product = ref if "." in ref else f"{domain}.{ref}"
    try:
        spec = MeshSpecs.load(root).product(product).spec
    except KeyError:
        return []
    return [str(c.name) for c in getattr(spec, "columns", None) or ()]


def title(node: NodePreview | None, steps: int) -> str:
    if node is None:
        return ""
    if node.index < 0:
        return f"Input {node.step}"
    if node.index >= steps:
        return "The product as written (its contract applied)"
    return f"After step {node.index + 1} ({node.step})"


def as_int(value: Any, default: Any) -> Any:
    try:
        return int(str(value))
    except ValueError:
        return default


def relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def message(text: str) -> Response:
    return HTMLResponse(f'<p class="note">{escape(text)}</p>')
