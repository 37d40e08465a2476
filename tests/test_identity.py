"""Who is who (governance/people.yaml): decisions are taken by the deciding team's people,
never on one's own request, on the CLI and the web; rollback and release by the product's team.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deltalake import DeltaTable

from mesh_platform.access import access_state, request_subscription, route_request
from mesh_platform.catalog import Catalog
from mesh_platform.web import CatalogServer, WebSettings
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import write_people
from tests.test_subscriptions import LEDGER

SOL, SUE, BO, PAT = "sol@shop.example", "sue@shop.example", "bo@books.example", "pat@plat.example"
TEAMS = {"shop-team": [SOL, SUE], "books-team": [BO], "platform-team": [PAT]}


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    products = {"shop": {"orders": ORDERS, "ledger": LEDGER}, "books": {}, "platform": {}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        write_people(tmp_path, TEAMS)
        yield mesh


def _as(monkeypatch: pytest.MonkeyPatch, person: str) -> None:
    monkeypatch.setenv("MESH_USER_EMAIL", person)


def _catalog(mesh: CliMesh) -> Catalog:
    return Catalog.open(f"sqlite:///{mesh.home / 'catalog.db'}")


def _ledger_request(mesh: CliMesh, requester: str) -> int:
    """books' request for the confidential shop.ledger by `requester`, routed to the producer."""
    catalog = _catalog(mesh)
    row = request_subscription(catalog, "books", "shop.ledger", actor=requester, purpose="audit")
    ident = row.subscription.id
    route_request(catalog, ident, row.subscription.round, "producer", actor="t", reason="r")
    return ident


def test_a_non_member_and_the_requester_cannot_approve(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    ident = _ledger_request(mesh, SOL)
    _as(monkeypatch, BO)  # the consumer's own person: not of the producer's team
    refused = mesh.run("approve", str(ident), "--reason", "mine")
    assert refused.exit_code == 1
    assert f"{BO} may not approve subscription {ident}" in refused.output
    assert "only team shop-team may" in refused.output and SOL in refused.output
    _as(monkeypatch, SOL)  # of the team, but they asked for it
    own = mesh.run("approve", str(ident), "--reason", "mine")
    assert own.exit_code == 1 and "it is their own request" in own.output
    assert access_state(_catalog(mesh), "books", "shop.ledger").state == "requested"  # type: ignore[union-attr]

    _as(monkeypatch, SUE)
    wrong_by = mesh.run("approve", str(ident), "--by", "shop-lead", "--reason", "ok")
    assert wrong_by.exit_code != 0 and "is not you" in wrong_by.output
    done = mesh.run("approve", str(ident), "--reason", "ok", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["decided_by"] == SUE
    # Revoking: the producer's team or the platform team; not the consumer.
    _as(monkeypatch, BO)
    assert mesh.run("revoke", str(ident), "--reason", "x").exit_code == 1
    _as(monkeypatch, PAT)
    assert mesh.run("revoke", str(ident), "--reason", "breach").exit_code == 0


def test_a_central_request_is_decided_by_the_platform_team_only(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog(mesh)
    row = request_subscription(catalog, "books", "shop.orders", actor=BO, purpose="x")
    route_request(catalog, row.subscription.id, 1, "platform", actor="t", reason="r")
    _as(monkeypatch, SUE)  # the producer's team does not decide a central request
    refused = mesh.run("deny", str(row.subscription.id), "--reason", "no")
    assert refused.exit_code == 1 and "only team platform-team may" in refused.output
    _as(monkeypatch, PAT)
    assert mesh.run("deny", str(row.subscription.id), "--reason", "no").exit_code == 0


def test_rollback_and_release_by_a_non_member_are_refused(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as(monkeypatch, SOL)
    batches: list[list[object]] = [[1.0, 2.0], [5.0, 6.0]]
    for amounts in batches:
        mesh.land("orders", {"id": [1, 2], "amount": amounts})
        assert mesh.run("materialize", "shop.orders").exit_code == 0
    table = mesh.root / "home" / "lake" / "shop" / "orders"
    version = DeltaTable(str(table)).version()
    _as(monkeypatch, BO)
    refused = mesh.run("rollback", "shop.orders", "--to", "0", "--reason", "mine")
    assert refused.exit_code == 1 and f"{BO} may not roll back shop.orders" in refused.output
    assert DeltaTable(str(table)).version() == version  # nothing restored
    _as(monkeypatch, SUE)
    done = mesh.run("rollback", "shop.orders", "--to", "0", "--reason", "bad export")
    assert done.exit_code == 0, done.output
    _as(monkeypatch, BO)
    refused = mesh.run("release", "shop.orders", "--reason", "go")
    assert refused.exit_code == 1 and f"{BO} may not release shop.orders" in refused.output
    _as(monkeypatch, PAT)  # the platform team does not answer for shop's operations here
    assert mesh.run("release", "shop.orders", "--reason", "go").exit_code == 1
    _as(monkeypatch, SOL)
    assert mesh.run("release", "shop.orders", "--reason", "fixed").exit_code == 0


AUDIT = """\
name: audit
description: The ledger, audited.
inputs: {ledger: shop.ledger}
steps:
  - sql: SELECT id, amount FROM ledger
"""


def test_a_request_filed_by_validate_is_the_persons_and_they_cannot_decide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    products = {"shop": {"orders": ORDERS, "ledger": LEDGER}, "books": {"audit": AUDIT}}
    with cli_mesh(tmp_path, {**products, "platform": {}}, monkeypatch) as mesh:
        write_people(tmp_path, {**TEAMS, "books-team": [BO, SOL]})
        (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop]\n")
        monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{mesh.home / 'catalog.db'}")
        _as(monkeypatch, SOL)  # of books (the consumer) and of shop (a decider)
        assert mesh.run("validate").exit_code in (0, 1)
        state = access_state(_catalog(mesh), "books", "shop.ledger")
        assert state is not None and state.state == "requested"
        assert state.requested_by == SOL  # the person, not "mesh validate"
        own = mesh.run("approve", str(state.id), "--reason", "mine")
        assert own.exit_code == 1 and "it is their own request" in own.output, own.output
        _as(monkeypatch, SUE)
        assert mesh.run("approve", str(state.id), "--reason", "ok").exit_code == 0


@pytest.fixture
def web(mesh: CliMesh, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The web catalog behind an authenticating proxy's header, served on a real port."""
    monkeypatch.setenv("MESH_IDENTITY_HEADER", "X-Forwarded-Email")
    url = f"sqlite:///{mesh.home / 'catalog.db'}"
    settings = WebSettings(mesh_root=mesh.root, catalog_url=url, ui_url="http://ui.invalid")
    server = CatalogServer(settings, port=0).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client
    finally:
        server.stop()


def test_the_web_refuses_a_non_member_and_the_requester_and_shows_who_acts(
    mesh: CliMesh, web: httpx.Client
) -> None:
    ident = _ledger_request(mesh, SOL)
    page = web.get(f"/subscriptions/{ident}", headers={"X-Forwarded-Email": BO})
    assert f"acting as {BO}" in page.text

    def approve(person: str | None) -> httpx.Response:
        headers = {"X-Forwarded-Email": person} if person else {}
        return web.post(f"/subscriptions/{ident}/approve", data={"reason": "ok"}, headers=headers)

    assert approve(None).status_code == 401  # no identity from the proxy
    refused = approve(BO)
    assert refused.status_code == 400 and "only team shop-team may" in refused.text
    assert approve(SOL).status_code == 400  # their own request
    assert access_state(_catalog(mesh), "books", "shop.ledger").state == "requested"  # type: ignore[union-attr]
    assert approve(SUE).status_code == 303
    state = access_state(_catalog(mesh), "books", "shop.ledger")
    assert state is not None and (state.state, state.decided_by) == ("approved", SUE)
