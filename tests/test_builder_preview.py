"""The builder's data after every step (issue 16, item 3): a draft's text previewed node by node
through `mesh preview`'s path (planned in place of its file, same engine, masking on read for the
draft's domain, the subscription rule), errors on the failing node only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh_platform.builder.planning import draft_errors
from mesh_platform.builder.preview import NodePreview, preview_draft
from tests.cli_mesh import CliMesh, cli_mesh

PEOPLE = """\
name: people
description: People, with what identifies them.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: city, type: string}
  - {name: amount, type: double}
"""
ROWS = {
    "id": [1, 2, 3, 4],
    "name": ["Alice Martin", "Bob", "Chloé Durand", "Dan"],
    "city": ["Paris", "Rome", "Paris", "Oslo"],
    "amount": [10.0, 20.5, 30.25, 4.0],
}
# The draft of the ads domain (no clearance): two steps, then the contract.
DRAFT = """\
name: by_city
description: People and amounts by city.
inputs: {people: platform.people}
steps:
  - name: big
    sql: SELECT id, name, city, amount * 2 AS doubled FROM people WHERE amount > 5
  - sql: SELECT city, count(*) AS n, sum(doubled) AS total, max(name) AS someone FROM big GROUP BY city
"""


@dataclass
class Draft:
    """What the preview reads of a draft (B1's Draft has the same fields)."""

    root: Path
    domain: str
    name: str
    yaml: str

    def text(self) -> str:
        return self.yaml


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """platform.people built; ads (no clearance) exists with an unrelated product."""
    other = "name: hello\ndescription: x\ninputs: {people: platform.people}\nsteps:\n  - sql: SELECT id FROM people\n"
    products = {"platform": {"people": PEOPLE}, "ads": {"hello": other}}
    with cli_mesh(tmp_path, products, monkeypatch) as built:
        for name, value in built.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        built.land("people", ROWS)
        done = built.run("materialize", "platform.people")
        assert done.exit_code == 0, done.output
        yield built


def _nodes(mesh: CliMesh, text: str = DRAFT, rows: int = 20) -> list[NodePreview]:
    return preview_draft(Draft(mesh.root, "ads", "by_city", text), rows)


def _masked(name: str) -> str:
    """The policy's mask for pii text (`redact`, keep 1), computed independently."""
    return name[:1] + "***"


def test_nodes_show_the_data_after_every_step(mesh: CliMesh) -> None:
    nodes = _nodes(mesh)
    assert [(n.step, n.index) for n in nodes] == [
        ("people", -1),
        ("big", 0),
        ("step_2", 1),
        ("as written", 2),
    ]
    assert all(n.error is None for n in nodes), [n.error for n in nodes]
    people, big, grouped, written = nodes
    assert people.row_count == 4
    assert [r["name"] for r in people.rows] == [_masked(n) for n in ROWS["name"]]
    # Independently: rows with amount > 5, doubled; then grouped by city.
    kept = [i for i, a in enumerate(ROWS["amount"]) if a > 5]
    assert big.row_count == len(kept)
    assert sorted(r["doubled"] for r in big.rows) == sorted(ROWS["amount"][i] * 2 for i in kept)
    expected: dict[str, tuple[int, float]] = {}
    for i in kept:
        n, total = expected.get(ROWS["city"][i], (0, 0.0))
        expected[ROWS["city"][i]] = (n + 1, total + ROWS["amount"][i] * 2)
    got = {r["city"]: (r["n"], r["total"]) for r in grouped.rows}
    assert got == expected
    assert written.row_count == len(expected)
    print(json.dumps([n.__dict__ for n in nodes], default=str, indent=1))
