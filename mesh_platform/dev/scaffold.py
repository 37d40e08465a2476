"""Scaffolding: a new domain (its folder and code location) and a new product in a domain (a
spec and an example-based test to fill in). Neither overwrites a file."""

from __future__ import annotations

import keyword
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.errors import MeshError, SpecError
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.code_locations import DEFINITIONS_FILE, register_domain
from mesh_platform.spec.fields import NAME_PATTERN, check_owner
from mesh_platform.spec.loading import DOMAIN_FILE, PRODUCTS_DIR, load_domain_spec
from mesh_platform.spec.workspace import domain_folder

TESTS_DIR = "tests"


def _domain_yaml(name: str, team: str, owners: tuple[str, ...]) -> str:
    """domain.yaml with every field, each explained by a comment in one column."""
    fields = [
        (f"name: {name}", "= the folder name"),
        (f"team: {team}", f"the owning team; its products get the owner team:{team}"),
        ("description: >", None),
        ("  TODO: what this domain is about and what it publishes, in a sentence or two.", None),
        (f"owners: [{', '.join(owners)}]", "more owners of every product (email, team:<name>)"),
        (f"# on_call: {name}-oncall@example.com", "its logic's failures are emailed here"),
        ("channels: []", "alert destinations: webhook:<name>, email:<address>"),
        ("severity: medium", "low, medium, high or critical: of its alerts"),
        ("time_to_recover_hours: 24", "the recovery time its alerts promise"),
    ]
    width = max(len(text) for text, note in fields if note) + 2
    lines = [f"# The {name} domain: one code location (docs/adding-a-domain.md: every field)."]
    lines += [f"{text:<{width}}# {note}" if note else text for text, note in fields]
    return "\n".join(lines) + "\n"


_DEFINITIONS = '''\
"""The {name} domain's code location: its products, read from products/*.yaml."""

from mesh_platform import load_domain

defs = load_domain(__file__)
'''

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
# Example-based tests: a few input rows -> the expected output rows (docs/product-tests.md).
# Run with `mesh test {domain}.{name}` or pytest. The case fails until its rows are written.
{columns}product: {name}
cases:
  - name: TODO describe the case
    inputs:
{ports}
    expected: []
"""


@dataclass(frozen=True)
class ScaffoldedDomain:
    """What `scaffold_domain` did."""

    folder: Path
    created: list[Path] = field(default_factory=list)
    registered: bool = False  # a code location was added to workspace.yaml


def scaffold_domain(
    root: Path, name: str, team: str | None = None, owners: tuple[str, ...] = ()
) -> ScaffoldedDomain:
    """`domains/<name>/` under `root` (domain.yaml, definitions.py, products/, tests/) and its
    code location in workspace.yaml.

    For a domain folder that exists already but is not in workspace.yaml, only the code
    location is added; a folder that is both is refused.
    """
    from mesh_platform.spec.code_locations import read_locations

    _check_domain_name(name)
    team = team or name
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", team):
        raise MeshError(f"team {team!r}: use letters, digits, '_', '.' or '-' (no spaces)")
    for owner in owners:
        try:
            check_owner(owner)
        except ValueError as exc:
            raise MeshError(str(exc)) from None
    folder = domain_folder(root, name)
    if (folder / DOMAIN_FILE).is_file():
        listed = (root / "workspace.yaml").is_file() and any(
            loc.domain == name for loc in read_locations(root)
        )
        if listed:
            raise MeshError(
                f"domain {name!r} exists already ({folder}); add a product with "
                f"`mesh scaffold product {name} NAME --input PORT=DOMAIN.PRODUCT`"
            )
        return ScaffoldedDomain(folder, [], register_domain(root, name))
    if folder.exists() and any(folder.iterdir()):
        raise MeshError(
            f"{folder} exists and is not a domain (no {DOMAIN_FILE}); pick another name"
        )
    files = {
        folder / "__init__.py": "",
        folder / DOMAIN_FILE: _domain_yaml(name, team, owners),
        folder / DEFINITIONS_FILE: _DEFINITIONS.format(name=name),
        folder / PRODUCTS_DIR / "__init__.py": "",
        folder / TESTS_DIR / ".gitkeep": "",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    try:
        load_domain_spec(folder)  # what was written must load
    except SpecError as exc:  # pragma: no cover - a template bug, not the user's
        raise MeshError(f"the scaffolded {DOMAIN_FILE} does not load: {exc}") from exc
    registered = register_domain(root, name)
    own_codeowners(root, name, team)
    return ScaffoldedDomain(folder, list(files), registered)


CODEOWNERS = "CODEOWNERS"
CODEOWNERS_ORG = "mesh"  # the organisation of the teams in CODEOWNERS (`@<org>/<team>`)


def own_codeowners(root: Path, name: str, team: str) -> bool:
    """Give `domains/<name>/` to its team in the mesh's CODEOWNERS (when the mesh has one and
    does not list the folder yet); whether a line was added."""
    path = root / CODEOWNERS
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    folder = f"/domains/{name}/"
    if any(line.split()[:1] == [folder] for line in text.splitlines()):
        return False
    org = next(
        (w[1:].split("/")[0] for w in text.split() if w.startswith("@") and "/" in w),
        CODEOWNERS_ORG,
    )
    path.write_text(text.rstrip("\n") + f"\n{folder} @{org}/{team}\n", encoding="utf-8")
    return True


def _check_domain_name(name: str) -> None:
    if not re.match(NAME_PATTERN, name) or keyword.iskeyword(name):
        raise MeshError(
            f"domain name {name!r} must be lowercase snake_case and not a Python keyword, "
            "e.g. logistics"
        )


def scaffold_product(mesh: Mesh, domain: str, name: str, inputs: dict[str, str]) -> list[Path]:
    """Write `products/<name>.yaml` and `tests/<name>.yaml` in the domain; refuse to overwrite.

    The test file lists every input port (no rows yet) with its columns in a comment; its one
    case, `TODO describe the case`, fails until it is written.
    """
    if domain in mesh.broken_domains:
        raise MeshError(
            f"domain {domain!r} does not load ({mesh.broken_domains[domain]}); fix it first: "
            "`mesh validate` lists its errors"
        )
    if domain not in mesh.domains:
        known = ", ".join(sorted(mesh.domains))
        raise MeshError(
            f"no domain {domain!r} (domains: {known})\n"
            f"  fix: create it with `mesh scaffold domain {domain}`, or check the name"
        )
    if not re.match(NAME_PATTERN, name):
        raise MeshError(f"product name {name!r} must be lowercase snake_case, e.g. daily_revenue")
    if not inputs:
        raise MeshError("give at least one input: --input orders=platform.silver_orders")
    for port, ref in inputs.items():
        if not re.match(NAME_PATTERN, port):
            raise MeshError(f"input port {port!r} must be lowercase snake_case, e.g. orders")
        key = _key(domain, ref)
        if key in mesh.excluded:
            raise MeshError(f"input {port}={ref} is left out: {mesh.excluded[key]}")
        if key not in mesh.products:
            raise MeshError(f"input {port}={ref}: no such product (see `mesh list`)")
    folder = mesh.domains[domain].folder
    spec_path = folder / PRODUCTS_DIR / f"{name}.yaml"
    test_path = folder / TESTS_DIR / f"{name}.yaml"
    for path in (spec_path, test_path):
        if path.exists():
            raise MeshError(f"{path} already exists; pick another name or edit it")
    first_port = next(iter(inputs))
    lines = "\n".join(f"  {port}: {ref}" for port, ref in inputs.items())
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    test_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(_SPEC.format(name=name, inputs=lines, first_port=first_port))
    ports = "\n".join(f"      {port}: []" for port in inputs)
    columns = _columns_comment(mesh, domain, inputs)
    test_path.write_text(_TEST.format(domain=domain, name=name, ports=ports, columns=columns))
    return [spec_path, test_path]


def _key(domain: str, ref: str) -> tuple[str, str]:
    owner, _, product = ref.rpartition(".")
    return (owner or domain, product)


def _columns_comment(mesh: Mesh, domain: str, inputs: dict[str, str]) -> str:
    """`# <port> (<product>): col type, ...` per input, wrapped, for writing the rows."""
    out = []
    for port, ref in inputs.items():
        key = _key(domain, ref)
        schema = mesh.plans[key].schema if key in mesh.plans else {}
        text = f"{port} ({ref}): " + ", ".join(f"{c} {t}" for c, t in schema.items())
        out += textwrap.wrap(text, 96, initial_indent="# ", subsequent_indent="#   ")
    return "\n".join(out) + "\n" if out else ""
