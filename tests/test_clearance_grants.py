"""Clearances are granted by the platform team (governance/clearances.yaml), never
self-declared in a domain's own domain.yaml; CODEOWNERS gives each folder to its team."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.access.clearances import grant_clearance, request_clearance
from mesh_platform.access.identity import Decider, DecisionRefused, domain_specs, load_people
from mesh_platform.catalog import Catalog, audit_entries
from mesh_platform.dev.scaffold import scaffold_domain
from mesh_platform.errors import MeshError
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.spec.governance import read_clearance_grants
from mesh_platform.spec.loading import load_domain_spec
from mesh_platform.spec.workspace import repo_root
from tests.cli_mesh import CliMesh, cli_mesh
from tests.mini_mesh import local_lakehouse, write_mesh, write_people
from tests.test_access_policy import PEOPLE, PROBE_PEOPLE, ROWS, _see, masked

CARE, PAT = "cam@care.example", "pat@plat.example"
TEAMS = {"care-team": [CARE], "platform-team": [PAT], "hr-team": ["hal@hr.example"]}
SELF_DECLARED = "name: care\nteam: care-team\nclearances: [pii]\n"


def _mesh(root: Path) -> None:
    probes = {"see_people": PROBE_PEOPLE}
    write_mesh(root, {"hr": {"people": PEOPLE}, "care": dict(probes), "platform": {}})
    (root / "domains/care/domain.yaml").write_text(SELF_DECLARED)
    write_people(root, TEAMS)
    local_lakehouse(root).write(("hr", "people"), pl.DataFrame(ROWS).to_arrow())


def test_a_self_declared_clearance_grants_nothing_and_a_granted_one_works(
    tmp_path: Path,
) -> None:
    _mesh(tmp_path)
    mesh = load_mesh(tmp_path)
    assert mesh.domains["care"].spec.clearances == ()
    rows = _see(mesh, local_lakehouse(tmp_path), "care", "people")
    names = ["Alice Martin", "Bob", "Chloé Durand"]  # ROWS["name"]
    assert ROWS["name"] == names
    assert [r["name"] for r in rows] == [masked(n) for n in names]  # still masked
    assert [r["born"] for r in rows] == [None] * 3

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    domains = domain_specs(tmp_path)
    people = load_people(tmp_path)
    asked = request_clearance(
        catalog, tmp_path, "care", "pii", actor=CARE, reason="we call patients", domains=domains
    )
    assert asked.state == "requested"
    for person, why in ((CARE, "only team platform-team may"), ("hal@hr.example", "only team")):
        with pytest.raises(DecisionRefused, match=why):
            grant_clearance(
                catalog, tmp_path, "care", "pii", decider=Decider(person, people),
                reason="ok", domains=domains,
            )  # fmt: skip
    assert read_clearance_grants(tmp_path).of("care") == ()
    grant_clearance(
        catalog, tmp_path, "care", "pii", decider=Decider(PAT, people),
        reason="care calls patients", domains=domains,
    )  # fmt: skip
    [grant] = read_clearance_grants(tmp_path).grants
    assert (grant.domain, grant.clearance, grant.granted_by) == ("care", "pii", PAT)
    assert grant.reason == "care calls patients" and grant.granted_at
    with catalog.session() as session:
        history = [
            (e.action, e.actor, e.reason)
            for e in audit_entries(session, subject="clearance:care:pii")
        ]
    assert history == [
        ("clearance_requested", CARE, "we call patients"),
        ("clearance_granted", PAT, "care calls patients"),
    ]

    mesh = load_mesh(tmp_path)
    assert mesh.domains["care"].spec.clearances == ("pii",)
    rows = _see(mesh, local_lakehouse(tmp_path), "care", "people")
    assert [r["name"] for r in rows] == ROWS["name"]  # clear, as granted
    assert [r["born"] for r in rows] == ROWS["born"]


def test_the_requester_cannot_grant_their_own_request(tmp_path: Path) -> None:
    _mesh(tmp_path)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    domains, people = domain_specs(tmp_path), load_people(tmp_path)
    request_clearance(catalog, tmp_path, "care", "pii", actor=PAT, reason="x", domains=domains)
    with pytest.raises(DecisionRefused, match="their own request"):
        grant_clearance(
            catalog, tmp_path, "care", "pii", decider=Decider(PAT, people), reason="ok",
            domains=domains,
        )  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    with cli_mesh(
        tmp_path, {"hr": {"people": PEOPLE}, "care": {}, "platform": {}}, monkeypatch
    ) as m:
        (tmp_path / "domains/care/domain.yaml").write_text(SELF_DECLARED)
        write_people(tmp_path, TEAMS)
        yield m


def test_validate_says_a_self_declared_clearance_grants_nothing_and_the_cli_grants(
    cli: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = cli.run("validate")
    assert validated.exit_code == 0, validated.output
    assert "domains/care/domain.yaml:3: `clearances: [pii]` in domain 'care'" in validated.output
    assert "grants nothing" in validated.output
    assert "mesh request-clearance care pii" in validated.output

    monkeypatch.setenv("MESH_USER_EMAIL", CARE)
    asked = cli.run("request-clearance", "care", "pii", "--reason", "we call patients")
    assert asked.exit_code == 0, asked.output
    unknown = cli.run("request-clearance", "care", "gold", "--reason", "x")
    assert unknown.exit_code == 1 and "no clearance 'gold'" in unknown.output
    refused = cli.run("grant-clearance", "care", "pii", "--reason", "mine")
    assert refused.exit_code == 1 and "only team platform-team may" in refused.output
    monkeypatch.setenv("MESH_USER_EMAIL", PAT)
    granted = cli.run("grant-clearance", "care", "pii", "--reason", "patients", "--json")
    assert granted.exit_code == 0, granted.output
    listed = json.loads(cli.run("clearances", "--json").stdout)
    assert [(r["domain"], r["clearance"], r["state"], r["granted_by"]) for r in listed] == [
        ("care", "pii", "granted", PAT)
    ]
    assert load_domain_spec(cli.root / "domains/care").clearances == ("pii",)


def test_the_demo_clearances_are_the_platform_teams_grants() -> None:
    root = repo_root()
    for name, cleared in (("sales", True), ("marketing", True), ("finance", False)):
        spec = load_domain_spec(root / "domains" / name)
        assert spec.declared_clearances == (), name  # nothing self-declared
        assert ("pii" in spec.clearances) is cleared, name
    owners = (root / "CODEOWNERS").read_text().splitlines()
    for line in ("/governance/ @mesh/data-platform", "/domains/sales/ @mesh/sales-analytics"):
        assert line in owners


def test_scaffold_domain_adds_its_codeowners_line(tmp_path: Path) -> None:
    write_mesh(tmp_path, {"platform": {}})
    (tmp_path / "CODEOWNERS").write_text(
        "* @acme/data-platform\n/governance/ @acme/data-platform\n"
    )
    scaffold_domain(tmp_path, "logistics", "logistics-team")
    lines = (tmp_path / "CODEOWNERS").read_text().splitlines()
    assert lines[-1] == "/domains/logistics/ @acme/logistics-team"
    with pytest.raises(MeshError, match="exists already"):
        scaffold_domain(tmp_path, "logistics", "logistics-team")
    assert (tmp_path / "CODEOWNERS").read_text().count("/domains/logistics/") == 1
