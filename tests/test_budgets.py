"""Budgets: the platform's limits against recorded production spend, notified once per month
to whoever answers for the domain (a real webhook receiver), suppressed by a waiver until
it expires; a bad standard names its field; `mesh budget grant | list | status`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from mesh_platform.catalog import Catalog
from mesh_platform.cli import main
from mesh_platform.cost import CostEntry, CostRates, record_cost
from mesh_platform.cost.budgets import BudgetStandard, budget_standard, load_standard
from mesh_platform.cost.waivers import grant_waiver
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.engine import Usage
from mesh_platform.errors import SpecErrors
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import AlertDraft, Notifier
from mesh_platform.ops.sensors import platform_sensors, watch_budgets
from tests import test_routing_support as rs
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)

# One unit per CPU second and one dollar per unit: a row's dollars are its CPU seconds.
DOLLAR_PER_CPU_SECOND = CostRates(units_per_core_hour=3600.0, dollars_per_unit=1.0)
MARCH = datetime(2026, 3, 2, 10, tzinfo=UTC)
MARCH_9 = datetime(2026, 3, 9, tzinfo=UTC)


def _spend(
    url: str, rows: list[tuple[str, float]], at: datetime = MARCH, kind: str = "run"
) -> None:
    """Record one run per (product, dollars) through the platform's own recording path."""
    for i, (product, dollars) in enumerate(rows):
        entry = CostEntry(
            product, product.partition(".")[0], f"{kind}-{product}-{at:%Y%m%d}-{i}", kind,
            Usage(dollars, dollars), DOLLAR_PER_CPU_SECOND, started_at=at,
        )
        assert record_cost(url, entry) is None


def _mesh(root: Path) -> MeshSpecs:
    """The platform and shop domains (webhook channels, on-call), no products needed."""
    for name, text in (("platform", rs.PLATFORM), ("shop", rs.SHOP)):
        (root / "domains" / name / "products").mkdir(parents=True)
        (root / "domains" / name / "domain.yaml").write_text(text)
    return MeshSpecs.load(root)


def _standard(**data: Any) -> BudgetStandard:
    return BudgetStandard.model_validate({"version": 1, **data})


def _notifier(url: str, hooks: rs.Hooks) -> Notifier:
    return Notifier(
        catalog_url=url,
        webhooks={"shop": f"{hooks.url}/shop", "platform": f"{hooks.url}/platform"},
    )


def _watch(
    notifier: Notifier, mesh: MeshSpecs, standard: BudgetStandard, now: datetime
) -> list[AlertDraft]:
    """One budget watch, on the notifier's catalog."""
    return watch_budgets(notifier.catalog(), notifier, mesh, standard, now=now)


def test_a_monthly_breach_is_notified_once_naming_the_costliest_products(
    catalog_url: str, tmp_path: Path  # noqa: F811
) -> None:
    _spend(catalog_url, [("shop.a", 30), ("shop.b", 45), ("shop.c", 35), ("shop.d", 1)])
    _spend(catalog_url, [("shop.a", 500)], kind="development")  # never counts
    _spend(catalog_url, [("shop.a", 900)], at=datetime(2026, 2, 27, tzinfo=UTC))  # February
    standard = _standard(limits={"per_domain_month": {"dollars": 100}})
    mesh, hooks = _mesh(tmp_path), rs.Hooks()
    notifier = _notifier(catalog_url, hooks)
    now = datetime(2026, 3, 20, tzinfo=UTC)
    with hooks.running():
        first = _watch(notifier, mesh, standard, now=now)
        _watch(notifier, mesh, standard, now=now + timedelta(minutes=5))
    assert [d.dedupe_key for d in first] == ["budget:shop:per_domain_month:2026-03"]
    assert hooks.paths() == ["/shop"]  # the domain's channel, once
    text = hooks.received[0][1]["text"]
    assert "$111.00 of $100.00" in text
    costliest = ["shop.b: $45.00", "shop.c: $35.00", "shop.a: $30.00"]
    assert all(item in text for item in costliest) and "shop.d" not in text
    assert text.index(costliest[0]) < text.index(costliest[1]) < text.index(costliest[2])
    emails = [m.channel for m in notifier.outbox("budget:")]
    assert "email:shop-oncall@example.com" in emails
    notifier.catalog().engine.dispose()


def test_a_waiver_suppresses_the_breach_until_it_expires(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    _spend(url, [("shop.a", 80), ("shop.b", 70)])
    standard = _standard(limits={"per_domain_month": {"dollars": 100}})
    grant_waiver(
        Catalog.open(url), "shop", "per_domain_month", date(2026, 3, 25), "alice",
        "quarter-end backfill", now=datetime(2026, 3, 10, tzinfo=UTC),
    )
    mesh, hooks = _mesh(tmp_path), rs.Hooks()
    notifier = _notifier(url, hooks)
    with hooks.running():
        assert _watch(notifier, mesh, standard, datetime(2026, 3, 20, tzinfo=UTC)) == []
        assert _watch(notifier, mesh, standard, datetime(2026, 3, 25, 23, tzinfo=UTC)) == []
        assert hooks.received == []
        for day in (26, 27):  # expired: the same period's breach is notified, once
            _watch(notifier, mesh, standard, datetime(2026, 3, day, tzinfo=UTC))
    assert hooks.paths() == ["/shop"]


def test_a_product_breach_names_the_product_and_goes_to_the_proxy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    _spend(url, [("shop.a", 10), ("shop.b", 25), ("shop.b", 20)])
    standard = _standard(
        limits={"per_product_month": {"dollars": 40}, "per_domain_month": {"dollars": 1000}},
        domains={"shop": {"notify": "platform"}},
    )
    mesh, hooks = _mesh(tmp_path), rs.Hooks()
    with hooks.running():
        drafts = _watch(_notifier(url, hooks), mesh, standard, MARCH_9)
    assert [d.dedupe_key for d in drafts] == ["budget:shop:per_product_month:shop.b:2026-03"]
    assert drafts[0].product == "shop.b" and drafts[0].audience == "platform"
    assert hooks.paths() == ["/platform"]  # the standard makes the platform shop's proxy
    text = hooks.received[0][1]["text"]
    assert "shop.b" in text.splitlines()[0] and "$45.00 of $40.00" in text


def test_a_per_run_breach_counts_the_runs_over_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    _spend(url, [("shop.a", 3), ("shop.b", 12), ("shop.a", 7)])
    standard = _standard(limits={"per_run": {"units": 5}})
    mesh, hooks = _mesh(tmp_path), rs.Hooks()
    with hooks.running():
        drafts = _watch(_notifier(url, hooks), mesh, standard, MARCH_9)
    assert [d.dedupe_key for d in drafts] == ["budget:shop:per_run:2026-03"]
    assert "2 run(s) over 5.0000 units, the costliest 12.0000 units (shop.b)" in drafts[0].body


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("version: 2\nlimits:\n  per_domain_month: {dollar: 5}\n",
         "limits.per_domain_month.dollar", 3),
        ("version: 2\nlimits:\n  per_run: {dollars: 5, units: 2}\n", "limits.per_run", 3),
        ("version: 2\ndomains:\n  shop: {notify: nobody}\n", "domains.shop.notify", 3),
        ("version: 2\nlimits:\n  per_run: {dollars: 5, enforce: block}\n",
         "limits.per_run.enforce", 3),
    ],
)
def test_a_bad_budget_standard_names_the_file_and_field(
    tmp_path: Path, text: str, field: str, line: int
) -> None:
    path = tmp_path / "2.yaml"
    path.write_text(text)
    with pytest.raises(SpecErrors) as caught:
        budget_standard([path])
    message = str(caught.value)
    assert f"{path}:{line}:" in message and f"`{field}" in message


def test_the_published_standard_loads_through_the_registry() -> None:
    standard = budget_standard()
    assert standard is not None and standard.version >= 1
    assert standard.limits_for("sales")  # every domain has limits
    assert load_standard(Path("standards/budgets/1.yaml")).platform_answers_for("marketing")


def test_the_budget_watch_sensor_evaluates_this_month(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    _spend(url, [("shop.a", 2000)], at=datetime.now(UTC))  # over the standard's $1000
    _mesh(tmp_path)
    sensors = {s.name: s for s in platform_sensors(tmp_path).sensors or []}
    sensor = sensors["mesh_budget_watch"]
    assert sensor.minimum_interval_seconds == 300
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    hooks = rs.Hooks()
    received = []
    with hooks.running(), dg.instance_for_test() as instance:
        for _ in range(2):
            context = dg.build_sensor_context(
                instance=instance,
                resources={"catalog": CatalogResource(url=url), "notifier": _notifier(url, hooks)},
            )
            sensor(context)
            received.append(len(hooks.received))
    # The standard's per-run, per-product and per-domain limits: one alert each, then nothing.
    assert received == [3, 3] and set(hooks.paths()) == {"/shop"}


def test_the_cli_grants_lists_and_shows_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MESH_CATALOG_URL", url)
    now = datetime.now(UTC)
    _spend(url, [("sales.pricing_summary", 1200), ("sales.returns", 3)], at=now)
    runner = CliRunner()
    until = (now + timedelta(days=10)).strftime("%Y-%m-%d")
    grant = ["budget", "grant", "sales", "--limit", "per_domain_month", "--until", until,
             "--by", "alice", "--reason", "quarter close"]
    out = runner.invoke(main, grant)
    assert out.exit_code == 0 and "waiver 1: per_domain_month" in out.output, out.output
    refused = runner.invoke(main, ["budget", "grant", "nowhere", *grant[3:]])
    assert refused.exit_code != 0 and "no domain 'nowhere'" in refused.output
    past = runner.invoke(main, [*grant[:6], "2020-01-01", *grant[7:]])
    assert past.exit_code != 0 and "already past" in past.output
    listed = json.loads(runner.invoke(main, ["budget", "list", "--json"]).output)
    assert [(g["domain"], g["granted_by"], g["active"]) for g in listed] == [
        ("sales", "alice", True)
    ]
    assert "quarter close" in runner.invoke(main, ["budget", "list"]).output
    out = runner.invoke(main, ["budget", "status", "--month", now.strftime("%Y-%m"), "--json"])
    assert out.exit_code == 0, out.output
    lines = json.loads(out.output)
    month = next(b for b in lines if b["domain"] == "sales" and b["limit"] == "per_domain_month")
    assert month["breached"] and month["spent"] == pytest.approx(1203)
    assert month["waiver"]["granted_by"] == "alice"
    product = next(b for b in lines if b["product"] == "sales.pricing_summary"
                   and b["limit"] == "per_product_month")
    assert product["breached"] and product["waiver"] is None
    human = runner.invoke(main, ["budget", "status"]).output
    assert "OVER (waiver until" in human and "sales.pricing_summary" in human
    assert runner.invoke(main, ["budget", "status", "--month", "March"]).exit_code != 0
