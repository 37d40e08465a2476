"""Example-based product tests: they run, and a failure shows a readable diff."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.dev.product_tests import discover, load_cases, run_case
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.workspace import repo_root


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
