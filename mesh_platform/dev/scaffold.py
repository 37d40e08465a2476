"""Scaffolding a new product in a domain: a spec and an example-based test to fill in."""

from __future__ import annotations

from pathlib import Path

from mesh_platform.errors import MeshError
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.fields import NAME_PATTERN

_SPEC = """\
name: {name}
description: >
  TODO: the business question this product answers, in one or two sentences.
visibility: internal
inputs:
{inputs}
steps:
  - sql: |
      SELECT *
      FROM {first_port}
"""

_TEST = """\
# Example-based tests: a few input rows -> the expected output rows.
# Run with `mesh test {domain}.{name}` or pytest.
product: {name}
cases:
  - name: TODO describe the case
    inputs:
      {first_port}: []
    expected: []
"""


def scaffold_product(mesh: Mesh, domain: str, name: str, inputs: dict[str, str]) -> list[Path]:
    """Write `products/<name>.yaml` and `tests/<name>.yaml` in the domain; refuse to overwrite."""
    import re

    if domain not in mesh.domains:
        raise MeshError(f"no domain {domain!r}; domains: {', '.join(sorted(mesh.domains))}")
    if not re.match(NAME_PATTERN, name):
        raise MeshError(f"product name {name!r} must be lowercase snake_case, e.g. daily_revenue")
    if not inputs:
        raise MeshError("give at least one input: --input orders=platform.silver_orders")
    for port, ref in inputs.items():
        owner, _, product = ref.rpartition(".")
        if (owner or domain, product) not in mesh.products:
            raise MeshError(f"input {port}={ref}: no such product (see `mesh list`)")
    folder = mesh.domains[domain].folder
    spec_path = folder / "products" / f"{name}.yaml"
    test_path = folder / "tests" / f"{name}.yaml"
    for path in (spec_path, test_path):
        if path.exists():
            raise MeshError(f"{path} already exists; pick another name or edit it")
    first_port = next(iter(inputs))
    lines = "\n".join(f"  {port}: {ref}" for port, ref in inputs.items())
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    test_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(_SPEC.format(name=name, inputs=lines, first_port=first_port))
    test_path.write_text(_TEST.format(domain=domain, name=name, first_port=first_port))
    return [spec_path, test_path]
