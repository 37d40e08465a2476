"""Who answers for what: a domain whose operations the platform answers for has its failures
sent to the platform team (a real failed run, the real sensor, a real webhook); its access
decisions go to the platform too; `mesh domains` shows the matrix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mesh_platform.access import approve, request_subscription, subscriptions
from mesh_platform.access.answers import answers_matrix
from mesh_platform.access.routing import route_requests
from mesh_platform.catalog import Alert, Catalog
from mesh_platform.cli import main
from mesh_platform.loader.mesh import MeshSpecs, load_mesh
from mesh_platform.notify import Notifier
from mesh_platform.ops.approvals import ACTOR, notify_transitions
from tests import test_routing_support as rs
from tests.mini_mesh import grant_clearances, write_mesh

PROXIED = "answers_for: {operations: platform, access: platform}\n"


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> rs.Hooks:
    hooks = rs.Hooks()
    monkeypatch.setenv("MESH_WEBHOOK_PLATFORM", f"{hooks.url}/platform")
    monkeypatch.setenv("MESH_WEBHOOK_SHOP", f"{hooks.url}/shop")
    with hooks.running():
        yield hooks


@pytest.mark.parametrize(("proxied", "domain_alert_to"), [(False, "/shop"), (True, "/platform")])
def test_business_logic_failures_go_to_whoever_answers_for_operations(
    tmp_path: Path, hooks: rs.Hooks, proxied: bool, domain_alert_to: str
) -> None:
    rs.build_mesh(tmp_path)
    if proxied:
        with (tmp_path / "domains/shop/domain.yaml").open("a") as f:
            f.write(PROXIED)
    mesh = load_mesh(tmp_path)
    rs.write_events(tmp_path, [1, 2], [4.0, 0.0])  # a division by zero: business logic
    instance = dg.DagsterInstance.ephemeral()
    result = rs.run(mesh, instance)
    assert not result.success
    notify = rs.notifier(tmp_path)
    rs.fire_failure_sensor(mesh, instance, result.run_id, notify)
    with notify.catalog().session() as session:
        alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
    assert [(a.audience, a.domain) for a in alerts] == [
        ("platform", "shop"),
        ("platform" if proxied else "domain", "shop"),
    ]
    # The platform's own alert, then the domain's: to the shop team, or to the platform team
    # acting as its proxy.
    assert hooks.paths() == ["/platform", domain_alert_to]
    assert ("which the platform team answers for" in alerts[1].title) is proxied


def test_access_decisions_of_a_proxied_producer_go_to_the_platform(tmp_path: Path) -> None:
    confidential = (
        "name: ledger\ndescription: Ledger.\nvisibility: published\nsource: {landing: ledger}\n"
        "tags: {sensitivity: confidential}\ncolumns:\n  - {name: id, type: bigint}\n"
    )
    for proxied, expected in ((False, "producer"), (True, "platform")):
        root = tmp_path / str(proxied)
        write_mesh(root, {"shop": {"ledger": confidential}, "books": {}})
        if proxied:
            with (root / "domains/shop/domain.yaml").open("a") as f:
                f.write(PROXIED)
        catalog = Catalog(f"sqlite:///{root / 'catalog.db'}")
        request_subscription(catalog, "books", "shop.ledger", actor="books", purpose="audit")
        mesh = MeshSpecs.load(root)
        assert route_requests(catalog, mesh, actor=ACTOR) == [(1, expected)]
        assert [s.route for s in subscriptions(catalog)] == [expected]
        approve(catalog, 1, actor="someone", reason="ok")
        notify_transitions(catalog, Notifier(catalog_url=catalog.url), mesh)
        with catalog.session() as session:
            alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
            told = [(a.title.split(":")[0], a.domain, a.audience) for a in alerts]
        # The decision is asked of whoever answers for shop's access; shop itself always hears
        # of its new consumer.
        assert told == [
            (
                "Subscription 1",
                "platform" if proxied else "shop",
                "platform" if proxied else "domain",
            ),
            ("New consumer of shop.ledger", "shop", "domain"),
            ("Subscription 1 approved", "books", "domain"),
        ]


def test_mesh_domains_shows_the_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mesh(tmp_path / "m", {"shop": {}, "books": {}, "platform": {}})
    with (tmp_path / "m/domains/shop/domain.yaml").open("a") as f:
        f.write("answers_for: {operations: platform, budget: platform}\nclearances: [pii]\n")
    grant_clearances(tmp_path / "m", {"shop": ["pii"]})
    monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: tmp_path / "m")
    result = CliRunner().invoke(main, ["domains"])
    assert result.exit_code == 0, result.output
    cells = [re.split(r"\s{2,}", line) for line in result.output.splitlines()]
    assert cells == [
        ["domain", "operations", "access", "budget", "clearances"],
        ["books", "domain (books-team)", "domain (books-team)", "domain (books-team)", "-"],
        [
            "platform",
            "domain (platform-team)",
            "domain (platform-team)",
            "domain (platform-team)",
            "-",
        ],
        [
            "shop",
            "platform (platform-team, as proxy)",
            "domain (shop-team)",
            "platform (platform-team, as proxy)",
            "pii",
        ],
    ]
    rows = json.loads(CliRunner().invoke(main, ["domains", "--json"]).output)
    assert rows[2] == {
        "domain": "shop",
        "team": "shop-team",
        "operations": "platform (platform-team, as proxy)",
        "access": "domain (shop-team)",
        "budget": "platform (platform-team, as proxy)",
        "clearances": ["pii"],
    }


def test_the_demo_mesh_matrix_covers_every_domain() -> None:
    specs = MeshSpecs.load()
    rows = answers_matrix({n: s.spec for n, s in specs.domains.items()})
    assert [r.domain for r in rows] == sorted(specs.domains)
