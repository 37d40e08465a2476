"""The builder's data after every step (issue 16, item 3): a draft's text previewed node by node
through `mesh preview`'s path (planned in place of its file, same engine, masking on read for the
draft's domain, the subscription rule), errors on the failing node only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mesh_platform.builder.planning import draft_errors
from mesh_platform.builder.preview import (
    NodePreview,
    count_node,
    input_state,
    preview_draft,
    preview_node,
    request_access,
)
from mesh_platform.builder.warm import warm
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
ROWS: dict[str, list[Any]] = {
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
  - sql: |
      SELECT city, count(*) AS n, sum(doubled) AS total, max(name) AS someone
      FROM big GROUP BY city
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
    # ads already reads people (the approvals file lists that read).
    other = "name: hello\ndescription: x\ninputs: {people: platform.people}\nsteps:\n"
    other += "  - sql: SELECT id FROM people\n"
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


def test_masked_columns_are_masked_and_flagged_for_an_uncleared_domain(mesh: CliMesh) -> None:
    people, big, grouped, written = _nodes(mesh)
    flags = {c.name: (c.masked, c.tags) for c in people.columns}
    assert flags["name"] == (True, ("pii",)) and flags["city"] == (False, ())
    assert {r["name"] for r in big.rows} <= {_masked(n) for n in ROWS["name"]}
    for node in (grouped, written):
        someone = next(c for c in node.columns if c.name == "someone")
        assert someone.masked and someone.tags == ("pii",) and someone.formula == "MAX(name)"
        assert not next(c for c in node.columns if c.name == "total").masked
    shown = json.dumps([n.rows for n in (people, big, grouped, written)], default=str)
    for name in ROWS["name"]:
        assert name not in shown


def test_an_input_without_subscription_gives_the_message_on_every_node(mesh: CliMesh) -> None:
    (mesh.root / "subscriptions.yaml").write_text("approved: []\n")
    assert input_state(mesh.root, "ads", "platform.people") == "none"
    nodes = _nodes(mesh)
    assert len(nodes) == 4
    for node in nodes:
        assert node.error is not None and node.rows == []
        assert "ads may not read platform.people: no subscription; nothing was read." in node.error
    asked = request_access(mesh.root, "ads", "platform.people", "city totals")
    assert asked["state"] == "requested" and asked["consumer"] == "ads"
    assert input_state(mesh.root, "ads", "platform.people") == "requested"
    assert "is requested (waiting for a decision)" in (_nodes(mesh)[1].error or "")
    assert input_state(mesh.root, "platform", "platform.people") == "own"


def test_a_failing_step_carries_its_error_on_that_node_only(mesh: CliMesh) -> None:
    failing = DRAFT.replace("max(name) AS someone", "raise_error('no') AS someone")
    nodes = _nodes(mesh, failing)
    people, big, broken, written = nodes
    assert people.error is None and big.error is None and big.row_count == 3
    assert broken.error is not None and "step_2" in broken.error and broken.rows == []
    assert "products/by_city.yaml" in broken.error and "fix:" in broken.error
    assert written.error is None and written.rows == []


def test_a_spec_error_shows_on_its_step_and_the_steps_before_keep_their_rows(
    mesh: CliMesh,
) -> None:
    wrong = DRAFT.replace("sum(doubled) AS total", "sum(nope) AS total")
    people, big, broken, written = _nodes(mesh, wrong)
    assert broken.error is not None and "nope" in broken.error
    assert "by_city.yaml:" in broken.error
    assert big.error is None and big.row_count == 3 and people.error is None
    assert written.error is None
    errors = draft_errors(mesh.root, "ads", "by_city", wrong)
    assert errors and "nope" in errors[0].problem
    assert draft_errors(mesh.root, "ads", "by_city", DRAFT) == []


def _draft(mesh: CliMesh, text: str = DRAFT, domain: str = "ads") -> Draft:
    return Draft(mesh.root, domain, "by_city", text)


def _expected_big(rows: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Step `big` computed independently: amount > 5, doubled (names masked for ads)."""
    return sorted(
        (i, _masked(n), c, a * 2)
        for i, n, c, a in zip(rows["id"], rows["name"], rows["city"], rows["amount"], strict=True)
        if a > 5
    )


def _big(node: NodePreview) -> list[tuple[Any, ...]]:
    return sorted((r["id"], r["name"], r["city"], r["doubled"]) for r in node.rows)


def test_preview_node_is_the_draft_nodes_one_at_a_time(mesh: CliMesh) -> None:
    draft = _draft(mesh)
    every = preview_draft(draft)
    warm().results.clear()
    for node in every:  # each node alone, with nothing kept, equals the whole preview's
        assert preview_node(draft, node.index, count=True) == node
    warm().results.clear()
    big = preview_node(draft, 0)
    assert _big(big) == _expected_big(ROWS)
    people = preview_node(draft, -1)  # not counted unless asked
    assert people.row_count is None and len(people.rows) == 4
    assert count_node(draft, -1) == 4 and count_node(draft, 0) == 3
    assert count_node(draft, 2) == len({ROWS["city"][i] for i in (0, 1, 2)})
    assert len(preview_node(draft, 0, rows=2).rows) == 2


def test_kept_step_results_are_recomputed_for_a_new_delta_version(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.engine.duckdb.engine import DuckDBEngine

    draft = _draft(mesh)
    assert _big(preview_node(draft, 0)) == _expected_big(ROWS)
    assert len(warm().results) > 0
    with monkeypatch.context() as patch:  # kept: the engine is not asked again
        patch.setattr(DuckDBEngine, "preview_step", _no_engine)
        assert _big(preview_node(draft, 0)) == _expected_big(ROWS)
    given: list[set[str]] = []
    original = DuckDBEngine.preview_step

    def spy(self: DuckDBEngine, *args: Any, **kwargs: Any) -> Any:
        given.append(set(kwargs["given"]))
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patch:  # the next node starts from the kept step
        patch.setattr(DuckDBEngine, "preview_step", spy)
        assert preview_node(draft, 1).rows and given == [{"big"}]
    changed = {**ROWS, "amount": [1.0, 50.0, 60.0, 70.0]}
    mesh.land("people", changed)
    done = mesh.run("materialize", "platform.people")
    assert done.exit_code == 0, done.output
    assert _big(preview_node(draft, 0)) == _expected_big(changed)  # a stale result would fail
    assert [r["amount"] for r in preview_node(draft, -1).rows] == changed["amount"]
    grouped = {r["city"]: r["total"] for r in preview_node(draft, 1).rows}
    assert grouped == {"Rome": 100.0, "Paris": 120.0, "Oslo": 140.0}


def _no_engine(*args: object, **kwargs: object) -> None:
    raise AssertionError("the kept result should have been used")


def test_masking_and_the_subscription_rule_apply_on_every_call(mesh: CliMesh) -> None:
    from mesh_platform.access.subscriptions import revoke, subscriptions
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment

    draft = _draft(mesh)
    assert preview_node(draft, 0).error is None and preview_node(draft, -1).error is None
    # The same steps in the producer's own domain: its values, not the ads domain's kept ones.
    own = DRAFT.replace("inputs: {people: platform.people}", "inputs: {people: people}")
    names = {r["name"] for r in preview_node(_draft(mesh, own, "platform"), 0).rows}
    assert names == {ROWS["name"][i] for i in (0, 1, 2)}
    assert {r["name"] for r in preview_node(draft, 0).rows} <= {_masked(n) for n in ROWS["name"]}
    catalog = Catalog.open(environment.catalog_url())
    (found,) = subscriptions(catalog, consumer="ads", state="approved")
    revoke(catalog, found.id, actor="test", reason="no longer")
    for index in (-1, 0, 1, 2):  # kept results or not: refused on every node, every call
        node = preview_node(draft, index)
        assert node.rows == [] and node.error is not None
        assert "ads may not read platform.people" in node.error


def test_the_page_node_panel_shows_the_selected_node_alone(mesh: CliMesh) -> None:
    import httpx

    from mesh_platform.config import environment
    from mesh_platform.web import CatalogServer, WebSettings

    settings = WebSettings(
        mesh_root=mesh.root, catalog_url=environment.catalog_url(), ui_url="http://127.0.0.1:3999"
    )
    server = CatalogServer(settings, port=0).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            form = {"draft": DRAFT, "token": "", "new": "1", "index": "0"}
            page = client.post("/build/ads/by_city/node", data=form).text
    finally:
        server.stop()
    assert 'id="node-rows"' in page and 'id="badge-0"' in page and 'id="badge-1"' not in page
    for _id, name, city, doubled in _expected_big(ROWS):
        assert f"<td>{name}</td><td>{city}</td><td>{doubled}</td>" in page
