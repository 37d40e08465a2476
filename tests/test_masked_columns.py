"""Masked columns from the consumer's side (issue 17, item 5): `mesh validate` warns on a step
computing over a column masked for its domain, refuses a keyed security function or a join key
on one (naming the file, line, column, clearance and how to request it), accepts passing it
through and counting it; `mesh preview` and the product page mark masked columns."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_platform.errors import SpecError
from mesh_platform.loader.mesh import Mesh, load_healthy
from tests.cli_mesh import CliMesh, cli_mesh
from tests.mini_mesh import validate_errors, write_mesh

CUSTOMERS = """\
name: customers
description: Customers, with what identifies them.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: born, type: date, tags: [pii]}
  - {name: segment, type: string}
"""
ROWS: dict[str, list[Any]] = {
    "id": [1, 2, 3],
    "name": ["Customer#001", "Customer#002", "Zoe"],
    "phone": ["33-555-0101", "44-555-0102", "33-555-0103"],
    "segment": ["AUTO", "AUTO", "HOUSE"],
}
REQUEST = '`mesh request-clearance ads pii --reason "what you need it for"`'
MASK_WORDS = "people.name reads masked by redact"


def _product(sql: str, name: str = "probe", ref: str = "crm.customers", extra: str = "") -> str:
    """A product reading `ref` as `people` with one SQL step (its text from line 6)."""
    body = "".join(f"      {line}\n" for line in sql.strip().splitlines())
    return (
        f"name: {name}\ndescription: A probe.\ninputs: {{people: {ref}}}\nsteps:\n"
        f"  - sql: |\n{body}{extra}"
    )


def _mesh(root: Path, products: dict[str, str], own: dict[str, str] | None = None) -> Mesh:
    """crm.customers, the `ads` domain's `products` (no clearance), crm's own `own` ones."""
    write_mesh(root, {"crm": {"customers": CUSTOMERS, **(own or {})}, "ads": products})
    return load_healthy(root)


def _masked_notices(mesh: Mesh) -> list[SpecError]:
    """The notices about masked columns (not the domains' other notices)."""
    return [n for n in mesh.notices if "masked" in n.problem or "NULL" in n.problem]


def test_computing_over_a_masked_column_is_a_warning_naming_the_clearance(
    tmp_path: Path,
) -> None:
    sql = """\
SELECT id,
  substring(phone, 1, 2) AS country
FROM people
"""
    mesh = _mesh(tmp_path, {"probe": _product(sql)})
    assert not mesh.errors and ("ads", "probe") in mesh.plans  # told, not refused
    (notice,) = _masked_notices(mesh)
    assert notice.file == tmp_path / "domains/ads/products/probe.yaml"
    assert notice.line == 7  # the SQL starts on line 6; substring is on its second line
    assert notice.problem.startswith(
        "step 'step_1' computes over 'phone' (substring(phone, 1, 2)): the result is computed "
        "from the masked values, not the clear ones; people.phone reads masked by redact"
    )
    assert "for the ads domain (tag 'pii': clear for clearance 'pii')" in notice.problem
    assert notice.fix is not None
    assert "ask for clearance 'pii'" in notice.fix and REQUEST in notice.fix
    assert "platform team grants it" in notice.fix


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT segment, count(DISTINCT name) AS n FROM people GROUP BY segment", "collide"),
        (
            "SELECT id FROM people WHERE name LIKE 'Cust%'",
            "computes over 'name' (name LIKE 'Cust%')",
        ),
        ("SELECT name, count(*) AS n FROM people GROUP BY name", "(GROUP BY name)"),
        ("SELECT DISTINCT name FROM people", "(SELECT DISTINCT name)"),
        ("SELECT count(born) AS n FROM people", "always NULL here: the count is 0"),
        (  # a filter in ON is not a key
            "SELECT a.id FROM people a JOIN people b ON a.id = b.id AND a.name <> ''",
            "computes over 'name' (name <> '')",
        ),
        (
            "WITH w AS (SELECT id, name AS who FROM people) SELECT id, upper(who) AS u FROM w",
            "computes over 'who' (= people.name) (upper(who))",
        ),
    ],
)
def test_each_computation_over_a_masked_column_is_told(
    tmp_path: Path, sql: str, expected: str
) -> None:
    mesh = _mesh(tmp_path, {"probe": _product(sql)})
    assert not mesh.errors
    (notice,) = _masked_notices(mesh)
    assert expected in notice.problem and REQUEST in (notice.fix or "")


def test_passing_through_and_counting_are_accepted_without_a_warning(tmp_path: Path) -> None:
    products = {
        "through": _product("SELECT id, name AS who, phone, segment FROM people", "through"),
        "counted": _product(
            "SELECT segment, count(name) AS named, count(*) AS n FROM people GROUP BY segment",
            "counted",
        ),
        "star": _product("SELECT * FROM people WHERE segment = 'AUTO'", "star"),
    }
    mesh = _mesh(tmp_path, products)
    assert not mesh.errors and not _masked_notices(mesh)
    report = mesh.masked[("ads", "through")]
    assert set(report.describe("step_1")) == {"who", "phone"}  # what preview marks
    assert report.describe("step_1")["who"] == (
        "from people.name, redact: tag 'pii': clear for clearance 'pii'"
    )
    assert mesh.masked[("ads", "counted")].describe("step_1") == {}  # a count is not masked


def test_the_owner_computes_over_its_own_columns_without_a_warning(tmp_path: Path) -> None:
    own = {
        "own": _product(
            "SELECT a.id, substring(a.phone, 1, 2) AS c, pseudonymize(a.name) AS t "
            "FROM people a JOIN people b ON a.name = b.name",
            "own",
            "customers",
        )
    }
    mesh = _mesh(tmp_path, {}, own)
    assert not mesh.errors and not _masked_notices(mesh) and not mesh.masked


REFUSALS = [
    (
        "SELECT id, pseudonymize(name) AS token FROM people",
        6,
        "step 'step_1' gives 'name' to pseudonymize(name): every masked value alike gets the "
        "same result, so one token stands for many different values",
    ),
    (
        "SELECT id,\n  encrypt_det(phone) AS secret\nFROM people",
        7,
        "step 'step_1' gives 'phone' to encrypt_det(phone)",
    ),
    (
        "SELECT a.id, b.id AS twin\nFROM people a\nJOIN people b ON a.name = b.name",
        8,
        "step 'step_1' joins on 'name' (a.name = b.name): masked values collide, so the join "
        "matches rows of different values",
    ),
    (
        "SELECT a.id FROM people a JOIN people b USING (name)",
        6,
        "step 'step_1' joins on 'name' (a.name = b.name)",
    ),
    (
        "SELECT id FROM people\nWHERE phone IN (SELECT phone FROM people WHERE segment = 'X')",
        7,
        "step 'step_1' joins on 'phone' (phone IN (SELECT ...))",
    ),
    (
        "SELECT a.id FROM people a JOIN people b ON a.id = b.id AND upper(a.name) = b.segment",
        6,
        "step 'step_1' joins on 'name' (upper(a.name) = b.segment)",
    ),
    (
        "SELECT a.id FROM people a, people b WHERE a.name = b.name",
        6,
        "step 'step_1' joins on 'name' (a.name = b.name)",
    ),
]


@pytest.mark.parametrize(("sql", "line", "expected"), REFUSALS)
def test_a_security_function_or_a_join_key_on_a_masked_column_is_refused(
    tmp_path: Path, sql: str, line: int, expected: str
) -> None:
    write_mesh(tmp_path, {"crm": {"customers": CUSTOMERS}, "ads": {"probe": _product(sql)}})
    (error,) = validate_errors(tmp_path)  # mesh validate and the code location alike
    assert error.file == tmp_path / "domains/ads/products/probe.yaml"
    assert error.line == line
    assert error.problem.startswith(expected), error.problem
    assert "for the ads domain (tag 'pii': clear for clearance 'pii')" in error.problem
    assert error.fix is not None and REQUEST in error.fix


def test_a_standard_security_step_after_a_pass_through_is_refused(tmp_path: Path) -> None:
    steps = (
        "  - use: rename\n    with: {columns: {name: who}}\n"
        "  - use: pseudonymize\n    with: {columns: [who]}\n"
    )
    product = _product("SELECT id, name, segment FROM people", extra=steps)
    write_mesh(tmp_path, {"crm": {"customers": CUSTOMERS}, "ads": {"probe": product}})
    (error,) = validate_errors(tmp_path)
    assert error.line == 9  # `- use: pseudonymize`
    assert error.problem.startswith(
        "step 'step_3' gives 'who' (= people.name) to the standard step 'pseudonymize': "
        "pseudonymize(who)"
    )
    assert error.fix is not None and REQUEST in error.fix


def test_the_demo_mesh_has_no_masked_column_warning() -> None:
    mesh = Mesh.load_healthy()
    assert not mesh.errors
    assert not _masked_notices(mesh)
    # finance (no clearance) reads platform.silver_customer masked, and uses only its keys.
    report = mesh.masked[("finance", "local_supplier_volume")]
    assert report.uses == () and report.by_step() == {}
    assert "c_name" in report.access["customer"]
    assert all(key[0] not in ("sales", "marketing") for key in mesh.masked)  # cleared


WARNED = """\
SELECT id, name, substring(phone, 1, 2) AS country, segment
FROM people
"""


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """crm.customers built from its landing export; ads.probe reads it without clearance."""
    products = {"crm": {"customers": CUSTOMERS}, "ads": {"probe": _product(WARNED)}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        mesh.land("customers", {**ROWS, "born": [dt.date(1990, 5, 17)] * 3})
        done = mesh.run("materialize", "crm.customers")
        assert done.exit_code == 0, done.output
        yield mesh


def _redact(value: str) -> str:
    """The policy's mask (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


def test_validate_warns_and_the_run_computes_over_the_masked_values(built: CliMesh) -> None:
    validated = built.run("validate")
    assert validated.exit_code == 0, validated.output
    assert "warning: " in validated.stderr and "computes over 'phone'" in validated.stderr
    assert REQUEST in validated.stderr
    ran = built.run("materialize", "ads.probe")
    assert ran.exit_code == 0, ran.output
    import deltalake

    rows = sorted(
        deltalake.DeltaTable(built.lake("ads.probe")).to_pyarrow_table().to_pylist(),
        key=lambda r: r["id"],
    )
    # What the warning says: the country code is computed from `3***`, not `33-555-0101`.
    assert [r["country"] for r in rows] == [_redact(p)[:2] for p in ROWS["phone"]]
    assert [r["country"] for r in rows] != [p[:2] for p in ROWS["phone"]]
    assert [r["name"] for r in rows] == [_redact(n) for n in ROWS["name"]]


def test_preview_marks_the_columns_masked_for_the_domain(built: CliMesh) -> None:
    text = built.run("preview", "ads.probe")
    assert text.exit_code == 0, text.output
    expected = (
        "masked for ads: name (redact: tag 'pii': clear for clearance 'pii'), country "
        "(computed from people.phone, redact: tag 'pii': clear for clearance 'pii')"
    )
    assert text.stdout.count(expected) == 2  # under the step and under the product as written
    shown = built.run("preview", "ads.probe", "--json")
    assert shown.exit_code == 0, shown.output
    (step,) = json.loads(shown.stdout)
    assert set(step["masked"]) == {"name", "country"}
    assert set(step["as_written"]["masked"]) == {"name", "country"}
    by_id = {r["id"]: r for r in step["sample"]}
    assert [by_id[i]["name"] for i in ROWS["id"]] == [_redact(n) for n in ROWS["name"]]
    assert [by_id[i]["country"] for i in ROWS["id"]] == [_redact(p)[:2] for p in ROWS["phone"]]
    own = built.run("preview", "crm.customers")
    assert own.exit_code == 0 and "masked for" not in own.stdout  # the owner sees clear values


def test_the_product_page_marks_columns_masked_for_a_reader_without_clearance(
    built: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from mesh_platform.catalog import Catalog
    from mesh_platform.config.environment import catalog_url
    from mesh_platform.marketplace.page import product_page
    from mesh_platform.web.app import create_app
    from mesh_platform.web.source import WebSettings

    monkeypatch.setenv("MESH_HOME", str(built.home))
    mesh = load_healthy(built.root)
    catalog = Catalog.open(catalog_url())
    page = product_page(catalog, mesh, "crm.customers")
    marks = {c.name: c.masked for c in page.columns}
    assert marks == {
        "id": "",
        "name": "masked (redact): tag 'pii': clear for clearance 'pii'",
        "phone": "masked (redact): tag 'pii': clear for clearance 'pii'",
        "born": "masked (nullify): tag 'pii': clear for clearance 'pii'",
        "segment": "",
    }
    owner = product_page(catalog, None, "crm.customers", viewer="crm")
    assert all(not c.masked for c in owner.columns)
    app = create_app(WebSettings(built.root, catalog_url(), "http://127.0.0.1:3000"))
    with TestClient(app) as client:
        html = client.get("/products/crm/customers").text
    assert 'id="masked-note"' in html
    assert "masked (redact) for a reader without clearance: tag &#39;pii&#39;" in html
    assert "masked (nullify) for a reader without clearance" in html
