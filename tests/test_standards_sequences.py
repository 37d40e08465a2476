"""Step sequences: included by reference, expanded at load, checked with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_platform.loader.mesh import load_mesh
from tests.mini_mesh import grant_clearances, refused, write_mesh

CONTACTS = """\
name: contacts
description: Landing copy.
source: {landing: contacts}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: note, type: string}
visibility: published
"""


def product(name: str, include: str) -> str:
    return (
        f"name: {name}\ndescription: Protected contacts.\ninputs: {{contacts: shop.contacts}}\n"
        "steps:\n  - sql: SELECT id, name, phone, note FROM contacts\n" + include
    )


PROTECT = "  - include: protect_contacts\n    with: {encrypt: [phone], pseudonymize: [name]}\n"

LOCAL = """\
name: tidy
description: Mask notes, then null a column (domain-local).
params:
  drop: {type: column}
  width: {type: number, default: 3, required: false}
steps: |
  - sql: SELECT id, name, phone, mask_partial(note, {{ width }}) AS note FROM step_1
  - use: nullify
    with: {columns: [{{ drop }}]}
"""


def _mesh(tmp_path: Path, crm_product: str, local: str = LOCAL) -> Path:
    root = write_mesh(
        tmp_path,
        {
            "shop": {"contacts": CONTACTS, "safe": product("safe", PROTECT)},
            "crm": {"leads": crm_product},
        },
    )
    (root / "domains/crm/sequences").mkdir()
    (root / "domains/crm/sequences/tidy.yaml").write_text(local)
    # crm encrypts and pseudonymizes shop's PII: without the clearance it would read it masked,
    # one token for everyone, which is refused (tests/test_masked_columns.py).
    grant_clearances(root, {"crm": ["pii"]})
    return root


def test_one_sequence_used_in_two_domains(tmp_path: Path) -> None:
    leads = product("leads", PROTECT).replace("shop.contacts", "shop.contacts")
    mesh = load_mesh(_mesh(tmp_path, leads))
    for key in (("shop", "safe"), ("crm", "leads")):
        plan = mesh.plans[key]
        assert [s.standard for s in plan.steps] == [None, "encrypt", "pseudonymize"]
        tags = {c.name: c.tags for c in plan.columns}
        assert tags == {"id": (), "name": ("pseudonymized",), "phone": ("encrypted",), "note": ()}


def test_a_domain_local_sequence_with_parameters(tmp_path: Path) -> None:
    leads = product("leads", "  - include: tidy\n    with: {drop: phone}\n")
    mesh = load_mesh(_mesh(tmp_path, leads))
    plan = mesh.plans[("crm", "leads")]
    assert [s.kind for s in plan.steps] == ["sql", "sql", "standard"]
    assert "MASK_PARTIAL(note, 3)" in {c.name: c.formula for c in plan.columns}["note"]


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("  - include: protect_everything\n", "unknown step sequence 'protect_everything'"),
        (
            "  - include: protect_contacts\n    with: {pseudonymize: [name]}\n",
            "missing required parameter 'encrypt'",
        ),
        (
            "  - include: protect_contacts\n    with: {encrypt: [phone], hash: [name]}\n",
            "has no parameter(s) hash",
        ),
        (
            "  - include: protect_contacts\n    with: {encrypt: phone}\n",
            "parameter 'encrypt' must be a columns",
        ),
        ("  - include: protect_contacts\n    with: {encrypt: [fax]}\n", "unknown column(s) fax"),
    ],
)
def test_bad_includes_are_spec_errors_at_the_include_line(
    tmp_path: Path, include: str, message: str
) -> None:
    root = _mesh(tmp_path, product("leads", include))
    error = refused(root)
    text = str(error.value)
    assert message in text, text
    assert "leads.yaml:6: " in text, text


def test_sql_errors_after_an_include_point_at_their_own_line(tmp_path: Path) -> None:
    spec = product("leads", PROTECT) + ("  - sql: |\n      SELECT id,\n        nope FROM step_3\n")
    root = _mesh(tmp_path, spec)
    error = refused(root)
    assert "leads.yaml:10: " in str(error.value), str(error.value)


def test_a_malformed_included_step_points_at_the_include(tmp_path: Path) -> None:
    local = LOCAL.replace("  - use: nullify\n", "  - use: nullify\n    colour: red\n")
    leads = product("leads", "  - sql: SELECT 1 AS x FROM contacts\n") + (
        "  - include: tidy\n    with: {drop: phone}\n"
    )
    root = _mesh(tmp_path, leads, local)
    error = refused(root)
    assert "leads.yaml:7: unknown field `steps.3.colour`" in str(error.value), str(error.value)
