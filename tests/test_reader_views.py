"""Rules and pages never show what the reader may not see (issue 20, item 3).

- A consumer's `references` rule against a column the access policy masks (or hides) for it is
  refused at validate: its failing rows would tell which guessed values exist in the clear
  column (an oracle). A reference to a column it sees in clear still runs.
- Failing samples (with each check's result in Dagster, `mesh show`, the web catalog) are what
  a reader of another domain without clearance sees: a `pii` value masked as the policy masks
  it, a `secret` one left out, a restricted product's not shown at all.
- The web catalog's product and impact pages, opened in a real browser, show no clear value.

Every clear value of the protected columns is looked for in what each reader sees; the masked
values are computed here, independently (`redact` keeping 1 character: `A***`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from mesh_platform.catalog import Catalog
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.web import CatalogServer, WebSettings
from tests.cli_mesh import CliMesh, cli_mesh
from tests.mini_mesh import grant_clearances, refused, write_mesh
from tests.test_access_policy import PEOPLE

NAMES: list[object] = ["Alice Liddell", "Bartholomew Quince", "Cordelia Marsh"]
SALARIES: list[object] = [98765.25, 45678.75, 51234.5]
CITIES: list[object] = ["Springfield", "Shelbyville", "Springfield"]
BORN: list[object] = [dt.date(1990, 5, 17), dt.date(1985, 11, 2), dt.date(1979, 1, 30)]
CLEAR = [*map(str, NAMES), *map(str, SALARIES), *(str(n).upper() for n in NAMES)]


def masked(value: object) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return str(value)[:1] + "***"


# The owner's own product, with rules that fail on protected values.
ROSTER = """\
name: roster
description: Who works where.
visibility: published
inputs: {people: people}
steps:
  - sql: SELECT id, name, upper(name) AS loud, city, salary FROM people
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: loud, type: string, tags: [pii]}
  - {name: city, type: string}
  - {name: salary, type: double, tags: [secret]}
quality:
  - {rule: regex, column: name, pattern: '^Z', severity: warn}
  - {rule: accepted_values, column: loud, values: [NOBODY], severity: warn}
  - {rule: between, column: salary, min: 0, max: 10, severity: warn}
  - {rule: unique, columns: [city, name], severity: warn, name: city_name_twice}
  - {rule: sql, severity: warn, name: in_springfield,
     sql: "SELECT name, city, salary FROM roster WHERE city = 'Springfield'"}
  - {rule: sql, severity: warn, name: renamed,
     sql: "SELECT id, name AS city FROM roster WHERE id = 1"}
  - {rule: sql, severity: warn, name: cast_names,
     sql: "SELECT unbase64(name) AS n FROM roster"}
  - {rule: sql, severity: warn, name: cast_cities,
     sql: "SELECT unbase64(city) AS n FROM roster"}
"""
# A duplicate of a key, for the compound `unique` rule.
ROSTER_TWICE = """\
name: roster_twice
description: Who works where, each twice.
inputs: {people: people}
steps:
  - sql: SELECT name, city FROM people UNION ALL SELECT name, city FROM people
quality:
  - {rule: unique, columns: [name, city], severity: warn}
"""
RESTRICTED = """\
name: payroll
description: The payroll, restricted.
tags: {sensitivity: restricted}
inputs: {people: people}
steps:
  - sql: SELECT id, city FROM people
quality:
  - {rule: accepted_values, column: city, values: [Nowhere], severity: warn}
"""
# Another domain's guesses, checked against platform.people.name by a `references` rule.
GUESSES = """\
name: guesses
description: Is Alice Liddell among the people?
inputs: {people: platform.people}
steps:
  - sql: >-
      SELECT id, CASE WHEN id = 1 THEN 'Alice Liddell' ELSE 'Nobody Known' END AS guess
      FROM people
quality:
  - {rule: references, column: guess, product: platform.people, ref_column: name,
     severity: warn}
"""
# A reference to a column the consumer sees in clear stays allowed.
BY_ID = """\
name: by_id
description: Ids that exist.
inputs: {people: platform.people}
steps:
  - sql: SELECT id + 1 AS id FROM people
quality:
  - {rule: references, column: id, product: platform.people, severity: warn}
"""


# --- The references oracle ------------------------------------------------------------------


def test_a_references_rule_against_a_masked_column_is_refused_at_validate_not_a_clear_one(
    tmp_path: Path,
) -> None:
    root = write_mesh(tmp_path, {"platform": {"people": PEOPLE}, "snoop": {"guesses": GUESSES}})
    errors = refused(root).value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    (error,) = errors
    assert error.file is not None and error.file.name == "guesses.yaml"
    assert error.line == 9  # the rule's line
    assert "'references_guess'" in error.problem
    assert "platform.people.name" in error.problem
    assert "masks" in error.problem and "tag 'pii'" in error.problem
    assert "which guessed values exist" in error.problem
    assert error.fix is not None and "clearance" in error.fix
    # A reference to a column the domain sees in clear, or with the clearance, is accepted.
    clear = write_mesh(
        tmp_path / "clear", {"platform": {"people": PEOPLE}, "snoop": {"by_id": BY_ID}}
    )
    assert ("snoop", "by_id") in load_mesh(clear).plans
    cleared = tmp_path / "cleared"
    write_mesh(
        cleared,
        {"platform": {"people": PEOPLE}, "hr": {"guesses": GUESSES}},
        domain_extra="clearances: [pii]\n",
    )
    grant_clearances(cleared, {"platform": ["pii"], "hr": ["pii"]})
    assert ("hr", "guesses") in load_mesh(cleared).plans


def test_a_references_rule_against_a_hidden_column_is_refused_too(tmp_path: Path) -> None:
    hidden = GUESSES.replace("ref_column: name", "ref_column: salary").replace(
        "'Alice Liddell' ELSE 'Nobody Known' END", "98765.25 ELSE 1.0 END"
    )
    root = write_mesh(tmp_path, {"platform": {"people": PEOPLE}, "snoop": {"guesses": hidden}})
    (error,) = refused(root).value.errors
    assert "platform.people.salary" in error.problem and "hides" in error.problem


# --- Failing samples: Dagster check metadata, `mesh show`, the web catalog -------------------


@dataclass(frozen=True)
class Ran:
    """The mesh after `mesh materialize platform`, with its Dagster instance's check results."""

    mesh: CliMesh
    checks: dict[str, dict[str, Any]]  # `product/check` -> metadata values
    descriptions: dict[str, str]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    root = tmp_path_factory.mktemp("reader_views")
    products = {
        "platform": {
            "people": PEOPLE,
            "roster": ROSTER,
            "roster_twice": ROSTER_TWICE,
            "payroll": RESTRICTED,
        },
        "snoop": {"by_id": BY_ID},
    }
    with pytest.MonkeyPatch.context() as mp, cli_mesh(root, products, mp) as mesh:
        mesh.land(
            "people",
            {
                "id": [1, 2, 3],
                "name": NAMES,
                "born": BORN,
                "city": CITIES,
                "salary": SALARIES,
            },
        )
        done = mesh.run("materialize", "platform")
        assert done.exit_code == 0, done.output
        checks, descriptions = _check_results(mesh)
        mp.setenv("MESH_HOME", str(mesh.home))
        mp.setenv("DAGSTER_HOME", str(mesh.home / "dagster"))
        yield Ran(mesh, checks, descriptions)


def _check_results(mesh: CliMesh) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Each check's latest evaluation in the mesh's Dagster instance: metadata, description."""
    from mesh_platform.quality.checks import check_specs
    from mesh_platform.spec.workspace import load_product

    checks: dict[str, dict[str, Any]] = {}
    descriptions: dict[str, str] = {}
    with dg.DagsterInstance.from_config(str(mesh.home / "dagster")) as instance:
        for product in ("roster", "roster_twice", "payroll"):
            spec = load_product(mesh.root, ("platform", product)).spec
            for check in check_specs(spec):
                history = instance.event_log_storage.get_asset_check_execution_history(
                    check.key, limit=1
                )
                evaluation = history[0].evaluation if history else None
                assert evaluation is not None, check.key
                name = f"{product}/{check.name}"
                checks[name] = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
                descriptions[name] = evaluation.description or ""
    return checks, descriptions


def _leaks(text: str) -> list[str]:
    return [value for value in CLEAR if value in text]


def test_failing_samples_in_the_check_metadata_are_masked(ran: Ran) -> None:
    checks = ran.checks
    everything = json.dumps(checks, default=str) + "\n".join(ran.descriptions.values())
    assert _leaks(everything) == []
    # `name`: the policy's mask of each failing value, in the order the rule found them.
    regex = json.loads(checks["roster/regex_name"]["mesh/sample"])
    assert sorted(regex) == sorted(masked(n) for n in NAMES)
    assert checks["roster/regex_name"]["mesh/failing_count"] == 3
    assert "masked (redact: tag 'pii'" in checks["roster/regex_name"]["mesh/sample_masked"]["name"]
    # `loud` is PII by propagation: masked as well.
    loud = json.loads(checks["roster/accepted_values_loud"]["mesh/sample"])
    assert sorted(loud) == sorted(masked(str(n).upper()) for n in NAMES)
    # `salary` is secret (hidden): no value at all, and the reason.
    assert json.loads(checks["roster/between_salary"]["mesh/sample"]) == []
    assert checks["roster/between_salary"]["mesh/failing_count"] == 3
    assert (
        "left out (tag 'secret'" in checks["roster/between_salary"]["mesh/sample_masked"]["salary"]
    )
    # A `sql` rule's rows: each column by its own decision.
    rows = json.loads(checks["roster/in_springfield"]["mesh/sample"])
    springfield = [n for n, c in zip(NAMES, CITIES, strict=True) if c == "Springfield"]
    assert sorted(r["name"] for r in rows) == sorted(masked(n) for n in springfield)
    assert all(r["city"] == "Springfield" and "salary" not in r for r in rows)
    # A column renamed in the rule's SQL keeps what it was computed from.
    (renamed,) = json.loads(checks["roster/renamed"]["mesh/sample"])
    assert renamed == {"id": 1, "city": masked(NAMES[0])}
    # An engine's error quoting a value it failed on: none of a protected column's.
    cast = checks["roster/cast_names"]["mesh/error"]
    assert "Conversion Error: Could not decode string '***' as base64" in cast
    assert "Springfield" in checks["roster/cast_cities"]["mesh/error"]  # not protected
    # A compound key's duplicates: the pii part masked.
    keys = json.loads(checks["roster_twice/unique_name_city"]["mesh/sample"])
    assert sorted(k["name"] for k in keys) == sorted(masked(n) for n in NAMES)
    # A product no reader without clearance may read shows no sample at all.
    payroll = checks["payroll/accepted_values_city"]
    assert json.loads(payroll["mesh/sample"]) == []
    assert "sensitivity=restricted" in json.dumps(payroll["mesh/sample_masked"])
    assert (
        "Springfield" not in json.dumps(payroll) + ran.descriptions["payroll/accepted_values_city"]
    )


def test_mesh_show_prints_the_masked_samples(ran: Ran) -> None:
    shown = ran.mesh.run("show", "platform.roster")
    assert shown.exit_code == 0, shown.output
    assert _leaks(shown.output) == []
    assert "latest failure of regex_name" in shown.output
    assert all(masked(n) in shown.output for n in NAMES)
    # The owner's view (`--as platform`) is not a cleared one: it is typed, not checked.
    as_owner = ran.mesh.run("show", "platform.roster", "--as", "platform", "--json")
    assert as_owner.exit_code == 0, as_owner.output
    assert _leaks(as_owner.output) == []


# --- The web catalog, in a real browser ------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def site(ran: Ran) -> Iterator[str]:
    shown = ran.mesh.run("show", "platform.roster")  # syncs the catalog with the instance
    assert shown.exit_code == 0, shown.output
    url = f"sqlite:///{ran.mesh.home / 'catalog.db'}"
    Catalog.open(url)
    server = CatalogServer(
        WebSettings(ran.mesh.root, url, "http://ui.example:3000", sync=False), port=0
    ).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.browser
def test_the_product_and_impact_pages_show_no_clear_value(site: str) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}: run `make install`"
    texts: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            for path in (
                "/products/platform/roster",
                "/products/platform/roster/impact",
                "/products/platform/people/impact?column=name",
                "/products/platform/people",
                "/products/platform/roster/contract",
            ):
                page.goto(site + path)
                texts[path] = page.inner_text("body")
        finally:
            browser.close()
    assert {p: _leaks(t) for p, t in texts.items()} == {p: [] for p in texts}
    product = texts["/products/platform/roster"]
    assert "Latest failing samples" in product and "regex_name" in product
    assert all(masked(n) in product for n in NAMES)
    assert (
        "What depends on platform.people.name"
        in texts["/products/platform/people/impact?column=name"]
    )


def test_a_sample_recorded_before_masking_is_not_shown(ran: Ran) -> None:
    # A failing evaluation as the gate recorded it before: the clear values, no view marker.
    with dg.DagsterInstance.from_config(str(ran.mesh.home / "dagster")) as instance:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(["platform", "roster"]),
                check_name="renamed",
                passed=False,
                metadata={"mesh/sample": json.dumps(NAMES), "mesh/failing_count": 3},
            )
        )
    shown = ran.mesh.run("show", "platform.roster", "--json")
    assert shown.exit_code == 0, shown.output
    assert _leaks(shown.output) == []
    samples = {s["check"]: s["sample"] for s in json.loads(shown.output)["failing_samples"]}
    assert samples["renamed"].startswith("(not shown: recorded before failing samples")
    # The others as the gate kept them, with what was protected.
    assert json.loads(samples["regex_name"].split("\n")[0]) == json.loads(
        ran.checks["roster/regex_name"]["mesh/sample"]
    )
    assert "name masked (redact: tag 'pii'" in samples["regex_name"]
    assert samples["between_salary"].startswith("[]\n(as a reader without clearance")
