"""PII tags flow through column lineage, across steps and domains; protections change them."""

from __future__ import annotations

from pathlib import Path

from mesh_platform.loader.mesh import Mesh, load_mesh
from tests.mini_mesh import domain_assets, grant_clearances, write_mesh

PEOPLE = """\
name: people
description: Landing copy.
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: first, type: string, tags: [pii]}
  - {name: last, type: string, tags: [pii]}
  - {name: email, type: string, tags: [pii]}
  - {name: city, type: string}
"""

CLEANED = """\
name: cleaned
description: Several steps over PII.
visibility: published
inputs: {people: people}
steps:
  - name: named
    sql: SELECT id, concat(first, ' ', last) AS full_name, email, city FROM people
  - sql: SELECT id, upper(full_name) AS shout, email, city FROM named
  - use: mask
    with: {columns: [email], style: partial, keep: 1}
columns:
  - {name: id, type: bigint}
  - {name: shout, type: string, tags: [pii]}
  - {name: email, type: string, tags: [masked]}
  - {name: city, type: string}
"""

REPORT = """\
name: report
description: Another domain reads the cleaned people.
inputs: {cleaned: hr.cleaned}
steps:
  - sql: |
      SELECT city, count(shout) AS people, max(shout) AS example_name,
        pseudonymize(max(shout)) AS example_token, max(email) AS an_email
      FROM cleaned GROUP BY city
"""

SAFE = """\
name: safe
description: Nothing readable left.
inputs: {cleaned: hr.cleaned}
steps:
  - sql: SELECT id, shout, city FROM cleaned
  - use: pseudonymize
    with: {columns: [shout]}
"""


def _tags(mesh: Mesh, domain: str, product: str) -> dict[str, tuple[str, ...]]:
    return {c.name: c.tags for c in mesh.plans[(domain, product)].columns}


def _root(tmp_path: Path) -> Path:
    root = write_mesh(
        tmp_path,
        {
            "hr": {"people": PEOPLE, "cleaned": CLEANED},
            "ops": {"report": REPORT, "safe": SAFE},
        },
    )
    # ops pseudonymizes names: without the clearance it would read them masked (`C***`), one
    # token for everyone, which is refused (tests/test_masked_columns.py). Tags do not depend
    # on the clearance.
    grant_clearances(root, {"ops": ["pii"]})
    return root


def test_pii_flows_through_steps_and_domains_and_protection_changes_it(tmp_path: Path) -> None:
    mesh = load_mesh(_root(tmp_path))
    assert _tags(mesh, "hr", "cleaned") == {
        "id": (),
        "shout": ("pii",),
        "email": ("masked",),
        "city": (),
    }
    assert _tags(mesh, "ops", "report") == {
        "city": (),
        "people": (),
        "example_name": ("pii",),
        "example_token": ("pseudonymized",),
        "an_email": ("masked",),
    }
    assert _tags(mesh, "ops", "safe") == {"id": (), "shout": ("pseudonymized",), "city": ()}


def test_products_with_pii_carry_the_contains_pii_tag(tmp_path: Path) -> None:
    root = _root(tmp_path)
    specs = {
        a.key.path[-1]: a.specs_by_key[a.key].tags
        for domain in ("hr", "ops")
        for a in domain_assets(root, domain)
    }
    assert specs["people"]["contains_pii"] == "true"
    assert specs["cleaned"]["contains_pii"] == "true"
    assert specs["report"]["contains_pii"] == "true"
    assert "contains_pii" not in specs["safe"]


def test_the_mesh_tags_sales_contacts() -> None:
    mesh = Mesh.load()
    assert _tags(mesh, "sales", "customer_revenue")["c_name"] == ("pii",)
    assert _tags(mesh, "marketing", "top_customers_by_nation")["c_name"] == ("pii",)
    protected = _tags(mesh, "sales", "returned_items_customers")
    assert not any("pii" in tags for tags in protected.values())
