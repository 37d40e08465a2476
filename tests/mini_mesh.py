"""Small meshes written into a temporary folder, for tests that need their own products."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mesh_platform.dagster.location import location_definitions
from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader import planner_for
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.spec.workspace import discover_domains


def write_mesh(
    root: Path,
    products: dict[str, dict[str, str]],
    domain_extra: str = "",
    approve_reads: bool = True,
) -> Path:
    """`root/domains/<domain>/` with a domain.yaml and one YAML file per product.

    With `approve_reads`, `root/subscriptions.yaml` approves every cross-domain read the
    products declare (the suite's meshes are about other things than subscriptions).
    """
    for domain, files in products.items():
        folder = root / "domains" / domain
        (folder / "products").mkdir(parents=True, exist_ok=True)
        (folder / "domain.yaml").write_text(f"name: {domain}\nteam: {domain}-team\n{domain_extra}")
        for name, text in files.items():
            (folder / "products" / f"{name}.yaml").write_text(textwrap.dedent(text))
    if approve_reads:
        write_approvals(root)
    return root


def declared_cross_domain_reads(root: Path) -> list[tuple[str, str]]:
    """`(consumer, domain.product)` of every cross-domain input in the product files under
    `root` that parse (tests write malformed ones on purpose)."""
    reads = set()
    for path in sorted(root.glob("domains/*/products/*.yaml")):
        consumer = path.parent.parent.name
        try:
            spec = YAML(typ="safe").load(path.read_text())
        except YAMLError:
            continue
        inputs = spec.get("inputs") if isinstance(spec, dict) else None
        for ref in (inputs or {}).values() if isinstance(inputs, dict) else ():
            domain, _, _ = str(ref).rpartition(".")
            if domain and domain != consumer:
                reads.add((consumer, str(ref)))
    return sorted(reads)


def landing_declarers(root: Path) -> list[str]:
    """The domains (other than `platform`) with a product file under `root` that declares a
    landing source (`source: {landing: ...}`), of the files that parse."""
    found = set()
    for path in sorted(root.glob("domains/*/products/*.yaml")):
        try:
            spec = YAML(typ="safe").load(path.read_text())
        except YAMLError:
            continue
        source = spec.get("source") if isinstance(spec, dict) else None
        if isinstance(source, dict) and "landing" in source:
            found.add(path.parent.parent.name)
    return sorted(found - {"platform"})


def write_approvals(root: Path, name_landing: bool = True) -> Path:
    """`root/subscriptions.yaml` approving the cross-domain reads declared under `root`, as
    the platform team approves the demo mesh's (docs/subscriptions.md).

    With `name_landing`, it also names under `landing:` the test domains that declare landing
    sources (only the platform's domains may: access/landing.py; the suite's meshes ingest in
    their own domains to test other things).
    """
    lines = ["approved:"] + [
        f"  - {{consumer: {consumer}, product: {product}, purpose: test mesh}}"
        for consumer, product in declared_cross_domain_reads(root)
    ]
    text = "\n".join(lines) + "\n" if len(lines) > 1 else "approved: []\n"
    landing = landing_declarers(root) if name_landing else []
    if landing:
        text += f"landing: [{', '.join(landing)}]\n"
    path = root / "subscriptions.yaml"
    path.write_text(text)
    return path


def grant_clearances(root: Path, grants: dict[str, list[str]]) -> Path:
    """`root/governance/clearances.yaml` granting each domain its clearances, as the platform
    team grants them (a `clearances:` line in a domain's own domain.yaml grants nothing);
    added to the grants already there."""
    path = root / "governance" / "clearances.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.is_file() else "grants:\n"
    for domain, clearances in grants.items():
        for clearance in clearances:
            text += (
                f"  - {{domain: {domain}, clearance: {clearance}, granted_by: platform@example.com,"
                " granted_at: 2026-01-01, reason: test mesh}\n"
            )
    path.write_text(text)
    return path


def write_people(root: Path, teams: dict[str, list[str]]) -> Path:
    """`root/governance/people.yaml`: each team's people (emails); decisions are checked."""
    path = root / "governance" / "people.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"  {team}: [{', '.join(people)}]" for team, people in teams.items()]
    path.write_text("teams:\n" + "\n".join(lines) + "\n")
    return path


def domain_assets(root: Path, domain: str) -> list[dg.AssetsDefinition]:
    """The assets the platform builds for `domain` of the mesh under `root`."""
    defs = location_definitions(root, domain)
    return [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]


def local_lakehouse(root: Path) -> Lakehouse:
    """A lakehouse in `root/lake` reading landing files from `root/landing`."""
    (root / "landing").mkdir(parents=True, exist_ok=True)
    return Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))


def validate_errors(root: Path) -> list[SpecError]:
    """The errors `mesh validate` reports for the mesh under `root`, after checking that each
    domain's code location refuses with exactly its share of them (one validation, everywhere).
    """
    with pytest.raises(SpecErrors) as caught:
        load_mesh(root)
    errors = caught.value.errors
    by_location: list[str] = []
    for folder in discover_domains(root):
        try:
            planner_for(root, folder.name).plan_all()
        except SpecErrors as exc:
            by_location.extend(str(e) for e in exc.errors)
        except SpecError as exc:
            by_location.append(str(exc))
    across_domains = [str(e) for e in errors if "across domains" in e.problem]
    assert sorted(by_location) == sorted(str(e) for e in errors if str(e) not in across_domains)
    return errors


@dataclass(frozen=True)
class Refused:
    """What `pytest.raises(SpecErrors)` gives, for tests that read `.value`."""

    value: SpecErrors


def refused(root: Path) -> Refused:
    """The mesh's spec errors, checked like `validate_errors` (the locations agree)."""
    return Refused(SpecErrors(validate_errors(root)))
