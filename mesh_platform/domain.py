"""A domain's code location: every product in its folder, stamped with the domain's identity."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mesh_platform.component import DataProduct
from mesh_platform.environment import build_resources
from mesh_platform.mesh import Mesh
from mesh_platform.operations import freshness_definitions


def load_domain(
    definitions_file: str | Path, extra: dg.Definitions | None = None
) -> dg.Definitions:
    """The Definitions of the domain whose `definitions.py` is `definitions_file`.

    Every product under `products/` becomes an asset keyed `[domain, product]`; nothing is
    listed by hand. `extra` adds the domain's own non-product definitions (sensors, jobs).
    """
    folder = Path(definitions_file).resolve().parent
    mesh = Mesh.load(folder.parent.parent)
    if folder.name not in mesh.domains:
        raise ValueError(f"{folder} is not a domain folder (no domain.yaml)")
    parts = [
        DataProduct(source.spec, source.path, mesh.root).build_defs()
        for source in mesh.of_domain(folder.name)
    ]
    freshness = freshness_definitions(
        folder.name, (source.spec for source in mesh.of_domain(folder.name))
    )
    if freshness is not None:
        parts.append(freshness)
    if extra is not None:
        parts.append(extra)
    return dg.Definitions.merge(*parts, dg.Definitions(resources=build_resources()))
