"""`mesh list`: the products by domain, with their owners, schedule and full description."""

from __future__ import annotations

import textwrap
from typing import Any

from mesh_platform.errors import MeshError
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.spec.model import ProductSpec

WIDTH = 100


def schedule_of(spec: ProductSpec) -> str:
    """When the product runs by itself: its automation condition, its cron schedule, or
    `manual` (only when asked: `mesh materialize`, the UI)."""
    if spec.automation == "on_cron":
        return f"on_cron {spec.schedule}"
    if spec.automation is not None:
        return spec.automation
    if spec.schedule:
        return f"cron {spec.schedule}"
    return "manual"


def rows(mesh: MeshSpecs, domain: str | None = None) -> list[dict[str, Any]]:
    """One row per product (of `domain`, or all), grouped by domain, sorted by name."""
    if domain is not None and domain not in mesh.domains:
        known = ", ".join(sorted(mesh.domains))
        raise MeshError(f"no domain {domain!r}; domains: {known}")
    out = []
    for name in sorted(mesh.domains):
        if domain not in (None, name):
            continue
        owner = mesh.domains[name].spec
        for source in sorted(mesh.of_domain(name), key=lambda s: s.spec.name):
            spec = source.spec
            out.append(
                {
                    "product": spec.qualified_name,
                    "domain": name,
                    "team": owner.team,
                    "owners": list(spec.owners),
                    "visibility": spec.visibility,
                    "schedule": schedule_of(spec),
                    "inputs": sorted(spec.inputs.values()),
                    "description": spec.description.strip(),
                    "file": str(source.path),
                }
            )
    return out


def render_listing(mesh: MeshSpecs, listed: list[dict[str, Any]], domain: str | None = None) -> str:
    """Per domain, a heading with its team and owners, then each product: name, visibility,
    schedule, and its whole description wrapped beneath (nothing cut). A domain without
    products is listed too."""
    blocks = []
    for name in [domain] if domain else sorted(mesh.domains):
        spec = mesh.domains[name].spec
        defaults = list(dict.fromkeys((spec.default_owner, *spec.owners)))
        lines = [f"{name}  (team {spec.team}; owners: {', '.join(defaults)})"]
        mine = [row for row in listed if row["domain"] == name]
        for row in mine:
            product = row["product"].partition(".")[2]
            lines.append(f"  {product:<32} {row['visibility']:<9} {row['schedule']}")
            lines += textwrap.wrap(
                " ".join(row["description"].split()),
                WIDTH,
                initial_indent="      ",
                subsequent_indent="      ",
            )
            if row["owners"] != defaults:
                lines.append(f"      owners: {', '.join(row['owners'])}")
        if not mine:
            lines.append(f"  no products yet: `mesh scaffold product {name} NAME --input ...`")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or "no domains"
