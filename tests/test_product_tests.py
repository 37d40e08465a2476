"""Example-based product tests: they run, a failure shows a readable diff, and a test file is
checked as strictly as a spec (unknown ports and columns, wrong values, placeholders)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.dev.product_tests import discover, load_cases, run_case
from mesh_platform.errors import SpecError
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.spec.workspace import repo_root
from tests.mini_mesh import write_mesh


def _segments_case():
    mesh = Mesh.load()
    path = repo_root() / "domains/marketing/tests/customer_segments.yaml"
    return mesh, load_cases(path, mesh)[0]


def test_each_demo_domain_has_product_tests() -> None:
    mesh = Mesh.load()
    domains = {p.parent.parent.name for p in discover(mesh)}
    assert {"sales", "finance", "marketing"} <= domains


def test_a_wrong_expectation_shows_missing_and_unexpected_rows() -> None:
    mesh, case = _segments_case()
    wrong = dataclasses.replace(
        case,
        expected=[
            {**row, "value_segment": "high"} if row["c_custkey"] == 2 else row
            for row in case.expected
        ],
    )
    result = run_case(wrong, mesh)
    assert not result.passed
    lines = result.diff.splitlines()
    assert lines[0].startswith("marketing.customer_segments: case 'thresholds are inclusive")
    assert "  - expected, not produced: {'c_custkey': 2, 'value_segment': 'high'}" in lines
    assert "  + produced, not expected: {'c_custkey': 2, 'value_segment': 'medium'}" in lines


def test_mesh_test_cli_reports_pass_and_fail(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["test", "marketing.customer_segments"])
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output
    missing = CliRunner().invoke(main, ["test", "marketing.nothing_here"])
    assert missing.exit_code == 1
    assert "no product tests found" in missing.output


def test_pytest_collects_domain_product_tests() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-qq",
            "-p",
            "no:cacheprovider",
            "domains/marketing/tests",
        ],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "domains/marketing/tests/customer_segments.yaml: 3" in result.stdout


# A small mesh of its own: `d.p` joins `d.src` (declared types) with `d.regions`.
SRC = """\
name: src
description: Sales.
source: {landing: src}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: 'decimal(10,2)'}
  - {name: region_id, type: bigint}
  - {name: sold_on, type: date}
"""
REGIONS = """\
name: regions
description: Regions.
source: {landing: regions}
columns:
  - {name: region_id, type: bigint}
  - {name: region_name, type: string}
"""
P = """\
name: p
description: Sales with their region.
inputs: {src: src, regions: regions}
steps:
  - sql: |
      SELECT s.id, s.amount * 2 AS doubled, r.region_name, s.sold_on
      FROM src s LEFT JOIN regions r ON s.region_id = r.region_id
"""
GOOD_CASE = """\
  - name: amounts double and regions are named
    inputs:
      src:
        - {id: "7", amount: 1.25, region_id: 1, sold_on: 1995-03-01}
      regions:
        - {region_id: 1, region_name: EMEA}
    expected:
      - {id: 7, doubled: 2.5, region_name: EMEA, sold_on: "1995-03-01"}
"""


def _mesh_with_test(tmp_path: Path, cases: str) -> tuple[Path, Path]:
    root = write_mesh(tmp_path, {"d": {"src": SRC, "regions": REGIONS, "p": P}})
    test_file = root / "domains/d/tests/p.yaml"
    test_file.parent.mkdir()
    test_file.write_text("product: p\ncases:\n" + textwrap.dedent(cases))
    return root, test_file


def _errors(tmp_path: Path, cases: str) -> list[SpecError]:
    root, test_file = _mesh_with_test(tmp_path, cases)
    (case,) = load_cases(test_file, load_mesh(root))
    for error in case.errors:
        assert error.file == test_file
    result = run_case(case, load_mesh(root))
    assert result.outcome == "error" and not result.passed
    for error in case.errors:
        assert error.problem in result.diff
    return list(case.errors)


def test_a_valid_case_converts_its_values_and_passes(tmp_path: Path) -> None:
    root, test_file = _mesh_with_test(tmp_path, GOOD_CASE)
    mesh = load_mesh(root)
    (case,) = load_cases(test_file, mesh)
    assert case.errors == ()
    result = run_case(case, mesh)
    assert result.passed, result.diff
    wrong = dataclasses.replace(case, expected=[{**case.expected[0], "doubled": 2.6}])
    assert not run_case(wrong, mesh).passed


def test_a_misspelt_input_column_is_an_error_not_a_null(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace('{id: "7", amount: 1.25', "{id: 7, amout: 1.25")
    (error,) = _errors(tmp_path, cases)
    assert error.problem == (
        "case 1: input 'src', row 1: unknown column 'amout' (did you mean 'amount'?); "
        "its columns: id, amount, region_id, sold_on"
    )
    assert error.line == 6


def test_a_misspelt_expected_column_is_an_error_not_a_diff(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace("region_name: EMEA, sold_on", "regoin_name: EMEA, sold_on")
    (error,) = _errors(tmp_path, cases)
    assert error.problem == (
        "case 1: expected, row 1: unknown column 'regoin_name' (did you mean 'region_name'?); "
        "its columns: id, doubled, region_name, sold_on"
    )
    assert error.line == 10


def test_an_unknown_port_and_a_missing_port(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace("      regions:\n", "      region:\n")
    unknown, missing = _errors(tmp_path, cases)
    assert unknown.problem == (
        "case 1: unknown input 'region' (did you mean 'regions'?); the product's inputs: "
        "src, regions"
    )
    assert unknown.line == 7
    assert missing.problem == (
        "case 1: no rows for input 'regions': every input of the product must be given"
    )
    assert missing.fix == "add `regions: []` (an empty input) or rows for it under `inputs:`"
    assert missing.line == 4  # `inputs:`


def test_values_of_the_wrong_type_name_the_column_and_line(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace(
        '{id: "7", amount: 1.25, region_id: 1, sold_on: 1995-03-01}',
        '{id: seven, amount: 1.255, region_id: 1, sold_on: "1995-13-01"}',
    ).replace("{region_id: 1, region_name: EMEA}", "{region_id: 1, region_name: 42}")
    errors = _errors(tmp_path, cases)
    assert [(e.problem, e.line) for e in errors] == [
        ("case 1: input 'src', row 1, column 'id': 'seven' is not a number (bigint)", 6),
        (
            "case 1: input 'src', row 1, column 'amount': 1.255 has more than 2 decimal places "
            "(decimal(10,2))",
            6,
        ),
        (
            "case 1: input 'src', row 1, column 'sold_on': '1995-13-01' is not a date (YYYY-MM-DD)",
            6,
        ),
        (
            "case 1: input 'regions', row 1, column 'region_name': 42 is not text; quote it "
            '("42") for a string column',
            8,
        ),
    ]
    assert errors[0].fix == "write a bigint value, or null"


def test_an_inferred_output_type_refuses_only_values_of_another_family(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace("{id: 7, doubled: 2.5,", "{id: 7, doubled: lots,")
    (error,) = _errors(tmp_path, cases)
    assert error.problem.startswith(
        "case 1: expected, row 1, column 'doubled': 'lots' is not a number (decimal("
    )


def test_the_scaffolded_placeholder_fails_as_not_written_yet(tmp_path: Path) -> None:
    placeholder = (
        "  - name: TODO describe the case\n    inputs:\n      src: []\n      regions: []\n"
    )
    root, test_file = _mesh_with_test(tmp_path, placeholder + "    expected: []\n")
    mesh = load_mesh(root)
    (case,) = load_cases(test_file, mesh)
    result = run_case(case, mesh)
    assert result.outcome == "todo" and not result.passed
    assert "not written yet" in result.diff
    # A case without a name, rows or expectations says nothing either.
    test_file.write_text("product: p\ncases:\n  - {inputs: {src: [], regions: []}, expected: []}\n")
    (unnamed,) = load_cases(test_file, mesh)
    assert run_case(unnamed, mesh).outcome == "todo"


def test_a_case_whose_run_fails_is_one_clean_error(tmp_path: Path) -> None:
    root, test_file = _mesh_with_test(tmp_path, GOOD_CASE)
    spec = root / "domains/d/products/p.yaml"
    failing = "length(regexp_extract(r.region_name, '(', 1)) AS doubled"  # a bad pattern
    spec.write_text(P.replace("s.amount * 2 AS doubled", failing))
    cases = GOOD_CASE.replace("doubled: 2.5", "doubled: 1")
    test_file.write_text("product: p\ncases:\n" + textwrap.dedent(cases))
    mesh = load_mesh(root)
    (case,) = load_cases(test_file, mesh)
    result = run_case(case, mesh)
    assert result.outcome == "error"
    assert "the product failed on these rows: step 'step_1' (sql) failed" in result.diff
    assert "Traceback" not in result.diff


def test_a_merge_key_repeated_in_a_test_sample_fails_the_case(tmp_path: Path) -> None:
    """Issue 18: a `write: merge` product whose result repeats a key on the case's rows fails
    the case, naming the key and how to keep one row per key."""
    root, test_file = _mesh_with_test(tmp_path, GOOD_CASE)
    spec = root / "domains/d/products/p.yaml"
    spec.write_text(
        P.replace(
            "inputs: {src: src, regions: regions}\n",
            "inputs: {src: src, regions: regions}\nwrite: merge\nkeys: [id]\n",
        )
    )
    cases = GOOD_CASE.replace(
        '        - {id: "7", amount: 1.25, region_id: 1, sold_on: 1995-03-01}\n',
        '        - {id: "7", amount: 1.25, region_id: 1, sold_on: 1995-03-01}\n'
        '        - {id: "7", amount: 2.5, region_id: 1, sold_on: 1995-03-02}\n',
    )
    test_file.write_text("product: p\ncases:\n" + textwrap.dedent(cases))
    mesh = load_mesh(root)
    (case,) = load_cases(test_file, mesh)
    result = run_case(case, mesh)
    assert result.outcome == "error", result.diff
    assert "1 key(s) appear more than once in the result (e.g. {'id': 7})" in result.diff
    assert "ROW_NUMBER() OVER" in result.diff


@pytest.fixture
def cli_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    def use(cases: str) -> Path:
        root, _ = _mesh_with_test(tmp_path, cases)
        monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: root)
        return root

    return use


def test_mesh_test_prints_the_errors_and_exits_1(cli_root) -> None:
    root = cli_root(GOOD_CASE.replace("amount: 1.25", "amout: 1.25") + GOOD_CASE)
    result = CliRunner().invoke(main, ["test", "d.p"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert "ERROR d.p: amounts double and regions are named" in lines
    assert (
        f"  {root / 'domains/d/tests/p.yaml'}:6: case 1: input 'src', row 1: unknown column "
        "'amout' (did you mean 'amount'?); its columns: id, amount, region_id, sold_on"
    ) in lines
    assert "PASS d.p: amounts double and regions are named" in lines  # the other case ran
    assert lines[-1] == "1 passed, 1 failed"


def test_mesh_test_reports_an_invalid_test_file(cli_root) -> None:
    root = cli_root(GOOD_CASE)
    (root / "domains/d/tests/p.yaml").write_text("product: q\ncases: []\n")
    result = CliRunner().invoke(main, ["test", "d"])
    assert result.exit_code == 1
    assert (
        f"ERROR {root / 'domains/d/tests/p.yaml'}:1: test file names unknown product 'q' of "
        "domain 'd'"
    ) in result.output
    assert "fix: write `product: <name>`, one of: p, regions, src" in result.output
    assert result.output.splitlines()[-1] == "0 passed, 0 failed, 1 test file(s) invalid"


def test_pytest_reports_the_same_errors(tmp_path: Path) -> None:
    cases = GOOD_CASE.replace("amount: 1.25", "amout: 1.25")
    root, test_file = _mesh_with_test(tmp_path, cases + GOOD_CASE.replace("amounts", "sums"))
    shutil.copy(repo_root() / "conftest.py", root / "conftest.py")
    other = root / "domains/d/tests/regions.yaml"
    other.write_text("product: region\ncases: []\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "domains/d/tests"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 failed, 1 passed" in out
    assert (
        f"{test_file}:6: case 1: input 'src', row 1: unknown column 'amout' (did you mean "
        "'amount'?); its columns: id, amount, region_id, sold_on"
    ) in out
    assert f"{other}:1: test file names unknown product 'region' of domain 'd'" in out
    assert "Traceback" not in out and "def runtest" not in out


def test_a_scaffolded_test_fails_until_written(cli_root) -> None:
    from mesh_platform.dev.scaffold import scaffold_product

    root = cli_root(GOOD_CASE)
    scaffold_product(load_mesh(root), "d", "fresh", {"src": "src", "regions": "regions"})
    result = CliRunner().invoke(main, ["test", "d.fresh"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "TODO d.fresh: TODO describe the case"
    assert "  not written yet: give the case a name saying what it checks" in lines[2]
    assert lines[-1] == "0 passed, 1 failed"


def test_a_broken_product_fails_only_its_own_test_file(cli_root) -> None:
    root = cli_root(GOOD_CASE)
    (root / "domains/d/products/broken.yaml").write_text(
        P.replace("name: p", "name: broken").replace("s.amount * 2", "s.amuont * 2")
    )
    (root / "domains/d/tests/broken.yaml").write_text("product: broken\ncases: []\n")
    result = CliRunner().invoke(main, ["test", "d"])
    assert result.exit_code == 1
    assert "PASS d.p: amounts double and regions are named" in result.output
    assert (
        f"ERROR {root / 'domains/d/tests/broken.yaml'}:1: product d.broken is left out: "
    ) in result.output
    assert result.output.splitlines()[-1] == "1 passed, 0 failed, 1 test file(s) invalid"
