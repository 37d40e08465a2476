"""Small meshes written into a temporary folder, for tests that need their own products."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg

from mesh_platform.dagster.location import domain_definitions
from mesh_platform.lake.lakehouse import Lakehouse


def write_mesh(root: Path, products: dict[str, dict[str, str]], domain_extra: str = "") -> Path:
    """`root/domains/<domain>/` with a domain.yaml and one YAML file per product."""
    for domain, files in products.items():
        folder = root / "domains" / domain
        (folder / "products").mkdir(parents=True, exist_ok=True)
        (folder / "domain.yaml").write_text(f"name: {domain}\nteam: {domain}-team\n{domain_extra}")
        for name, text in files.items():
            (folder / "products" / f"{name}.yaml").write_text(textwrap.dedent(text))
    return root


def domain_assets(root: Path, domain: str) -> list[dg.AssetsDefinition]:
    """The assets the platform builds for `domain` of the mesh under `root`."""
    defs = domain_definitions(root, domain)
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]


def local_lakehouse(root: Path) -> Lakehouse:
    """A lakehouse in `root/lake` reading landing files from `root/landing`."""
    (root / "landing").mkdir(parents=True, exist_ok=True)
    return Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
