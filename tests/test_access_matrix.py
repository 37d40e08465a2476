"""The access matrix: every consumer domain x published product x PII column of the demo mesh
(plus a test domain with the `pii` clearance and one without), through a Dagster run, `mesh
preview` and a product test. A consumer without clearance never sees a clear value; one with
clearance (or the product's own domain) sees exactly the clear value.

The products and their data are the demo mesh's own (materialized at scale 0.01); each
consumer gets a probe product selecting the product's key and PII columns, in a copy of the
mesh where the demo domains keep their real `domain.yaml` (and so their real clearances).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from ruamel.yaml import YAML

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.dev.preview import preview_product
from mesh_platform.dev.product_tests import load_cases, run_case
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.security.keys import Keyring
from tests.fixtures_mesh import MaterializedMesh
from tests.mini_mesh import domain_assets, grant_clearances, write_approvals

CLEARED, PLAIN = "mx_cleared", "mx_plain"  # the test domains: with and without `pii`
SAMPLE_ROWS = 5  # rows of each product given to the product-test cases


def masked(value: str) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


@dataclass(frozen=True)
class Target:
    """A published product of the demo mesh with PII columns, and its key column."""

    domain: str
    name: str
    key: str
    pii: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def probe(self) -> str:
        return f"probe_{self.domain}_{self.name}"


@dataclass
class Tally:
    """Combinations checked and leaks found, per channel."""

    checked: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def check(
        self,
        channel: str,
        consumer: str,
        target: Target,
        column: str,
        seen: dict[Any, Any],
        clear: dict[Any, Any],
        sees_clear: bool,
    ) -> None:
        """Compare what `consumer` saw of `column` (key -> value) with the clear values."""
        assert seen, f"{channel}: {consumer} saw no rows of {target.ref}"
        self.checked[channel] = self.checked.get(channel, 0) + 1
        where = f"{channel}: {consumer} x {target.ref}.{column}"
        for key, value in seen.items():
            truth = clear[key]
            if not sees_clear and truth is not None and value == truth:
                self.leaks.append(f"{where}: {value!r} in clear (key {key})")
                return
            expected = truth if sees_clear else (None if truth is None else masked(truth))
            if value != expected:
                self.wrong.append(f"{where}: {value!r}, expected {expected!r} (key {key})")
                return


def _targets(mesh: Mesh) -> list[Target]:
    found = []
    for key, plan in sorted(mesh.plans.items()):
        spec = mesh.products[key].spec
        pii = tuple(c.name for c in plan.columns if "pii" in c.tags)
        if spec.visibility == "published" and pii:
            found.append(Target(key[0], key[1], plan.columns[0].name, pii))
    return found


def _write_probe_mesh(root: Path, demo: Mesh, targets: list[Target]) -> dict[str, bool]:
    """A copy of the demo mesh's domains with a probe per consumer and target, and the test
    domains; returns each consumer and whether it sees PII in clear (by its clearances)."""
    consumers: dict[str, bool] = {}
    for name, domain in sorted(demo.domains.items()):
        folder = root / "domains" / name / "products"
        folder.mkdir(parents=True)
        shutil.copy(domain.folder / "domain.yaml", folder.parent / "domain.yaml")
        if any(t.domain == name for t in targets):  # the producers: their YAML products
            for path in sorted((domain.folder / "products").glob("*.yaml")):
                shutil.copy(path, folder / path.name)
        consumers[name] = "pii" in domain.spec.clearances
    for name, clearances in ((CLEARED, "[pii]"), (PLAIN, "[]")):
        (root / "domains" / name / "products").mkdir(parents=True)
        (root / "domains" / name / "domain.yaml").write_text(
            f"name: {name}\nteam: {name}\nclearances: {clearances}\n"
        )
        consumers[name] = name == CLEARED
    # The demo's grants (governance/clearances.yaml) and the cleared test domain's.
    grant_clearances(root, {name: ["pii"] for name, clear in consumers.items() if clear})
    for consumer in consumers:
        for t in targets:
            (root / "domains" / consumer / "products" / f"{t.probe}.yaml").write_text(
                f"name: {t.probe}\ndescription: What {consumer} sees of {t.ref}.\n"
                f"inputs: {{src: {t.ref}}}\n"
                f"steps:\n  - sql: SELECT {', '.join((t.key, *t.pii))} FROM src\n"
            )
    write_approvals(root)  # subscriptions are not what this test is about
    return consumers


def _write_cases(
    root: Path, consumers: dict[str, bool], targets: list[Target], clear: dict[str, pl.DataFrame]
) -> None:
    """A product test per probe: the product's first rows in, clear or masked values out."""
    yaml = YAML()
    for consumer, cleared in consumers.items():
        folder = root / "domains" / consumer / "tests"
        folder.mkdir()
        for t in targets:
            sees_clear = cleared or consumer == t.domain  # the owner sees its own in clear
            rows = clear[t.ref].head(SAMPLE_ROWS).to_dicts()
            expected = [
                {c: v if sees_clear or c == t.key else masked(v) for c, v in r.items()}
                for r in rows
            ]
            case = {"name": f"{consumer} reads {t.ref}", "inputs": {"src": rows}}
            case["expected"] = expected
            with (folder / f"{t.probe}.yaml").open("w") as out:
                yaml.dump({"product": t.probe, "cases": [case]}, out)


@pytest.fixture(scope="module")
def matrix(
    materialized_mesh: MaterializedMesh, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Mesh, dict[str, bool], list[Target], dict[str, pl.DataFrame]]]:
    targets = _targets(materialized_mesh.mesh)
    root = tmp_path_factory.mktemp("access_matrix")
    consumers = _write_probe_mesh(root, materialized_mesh.mesh, targets)
    clear = {}
    for t in targets:
        table = materialized_mesh.table_path(t.ref)
        shutil.copytree(table, root / "lake" / t.domain / t.name)
        clear[t.ref] = materialized_mesh.read(t.ref).select(t.key, *t.pii).sort(t.key)
    _write_cases(root, consumers, targets, clear)
    (root / "landing").mkdir()
    yield root, load_mesh(root), consumers, targets, clear


def test_the_demo_mesh_has_pii_products_and_the_clearances_it_needs(
    matrix: tuple[Path, Mesh, dict[str, bool], list[Target], dict[str, pl.DataFrame]],
) -> None:
    _, _, consumers, targets, _ = matrix
    assert {t.ref for t in targets} >= {"platform.silver_customer", "sales.customer_revenue"}
    # The demo's readers of customer PII are cleared, so their products keep their meaning.
    assert consumers["sales"] and consumers["marketing"] and not consumers["finance"]


def test_no_consumer_without_clearance_sees_a_clear_pii_value(
    matrix: tuple[Path, Mesh, dict[str, bool], list[Target], dict[str, pl.DataFrame]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root, mesh, consumers, targets, clear = matrix
    monkeypatch.setenv("MESH_HOME", str(tmp_path))  # the product tests' cost records
    catalog = CatalogResource(url=f"sqlite:///{tmp_path / 'catalog.db'}")  # the subscriptions
    tally = Tally()
    lake = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
    keys = Keyring.dev()
    for consumer, cleared in consumers.items():
        # A Dagster run of the consumer's probes, with its domain's lakehouse.
        probes = [dg.AssetKey([consumer, t.probe]) for t in targets]
        run_lake = lake.model_copy(update={"domain": consumer})
        result = dg.materialize(
            domain_assets(root, consumer),
            selection=probes,
            resources={"lakehouse": run_lake, "catalog": catalog, "keys": keys},
        )
        assert result.success
        for t in targets:
            truth = {r[t.key]: r for r in clear[t.ref].to_dicts()}
            sees_clear = cleared or consumer == t.domain
            ran = pl.read_delta(lake.uri((consumer, t.probe))).to_dicts()
            previews = preview_product(mesh, f"{consumer}.{t.probe}", lake, keys, rows=10**6)
            previewed = previews[-1].sample.to_dicts()
            assert len(previewed) == len(ran) == len(truth)
            (path,) = [p for p in (root / "domains" / consumer / "tests").glob(f"{t.probe}.yaml")]
            (case,) = load_cases(path, mesh)
            outcome = run_case(case, mesh)
            assert outcome.passed, outcome.diff
            for column in t.pii:
                values = {k: r[column] for k, r in truth.items()}
                for channel, rows in (("run", ran), ("preview", previewed)):
                    seen = {r[t.key]: r[column] for r in rows}
                    tally.check(channel, consumer, t, column, seen, values, sees_clear)
                seen = {r[t.key]: r[column] for r in outcome.actual}
                tally.check("product test", consumer, t, column, seen, values, sees_clear)
    combinations = len(consumers) * sum(len(t.pii) for t in targets)
    print(
        f"\naccess matrix: {len(consumers)} consumer domains x {len(targets)} published PII "
        f"products, {combinations} consumer x product x PII-column combinations; checked "
        + ", ".join(f"{n} through {c}" for c, n in tally.checked.items())
        + f" ({sum(tally.checked.values())} checks); leaks found: {len(tally.leaks)}"
    )
    assert tally.checked == dict.fromkeys(("run", "preview", "product test"), combinations)
    assert not tally.leaks, tally.leaks
    assert not tally.wrong, tally.wrong
