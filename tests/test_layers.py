"""The import-layer contract (pyproject.toml, `lint-imports` in `make test`) holds, and it
fails on a layer breach and on an import circle, checked on a copy of the code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_platform.spec.workspace import repo_root

LINT = Path(sys.executable).parent / "lint-imports"


def _copy(tmp_path: Path) -> Path:
    root = repo_root()
    copy = tmp_path / "checkout"
    for package in ("mesh_platform", "standards"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(root / package, copy / package, ignore=ignore)
    shutil.copy(root / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(checkout: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run(
        [str(LINT), "--no-logo", "--no-cache"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_layers_hold(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # a low layer importing a high one (the spec importing Dagster-facing code)
        ("spec/model.py", "import mesh_platform.dagster.factory", "Platform layers BROKEN"),
        # a circle inside a layer: compile.sql importing compile.plan, which imports it
        ("compile/sql.py", "import mesh_platform.compile.plan", "No import circles"),
        # the platform reaching into the standards instead of the registry
        ("compile/plan.py", "import standards", "never imports the standards"),
    ],
)
def test_a_breach_fails_the_check(tmp_path: Path, module: str, line: str, contract: str) -> None:
    checkout = _copy(tmp_path)
    path = checkout / "mesh_platform" / module
    path.write_text(path.read_text() + f"\n\ndef _breach() -> None:\n    {line}  # noqa\n")
    result = _lint(checkout)
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if "BROKEN" in ln]
    assert any(contract.replace(" BROKEN", "") in ln for ln in broken), result.stdout[-3000:]


def _contract_layers() -> list[set[str]]:
    """The layers of the import-linter contract, highest first, each a set of packages."""
    import tomllib

    config = tomllib.loads((repo_root() / "pyproject.toml").read_text())
    (contract,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"
    ]
    return [{p.strip() for p in layer.split("|")} for layer in contract["layers"]]


def _documented_layers() -> list[set[str]]:
    """The layer table of docs/architecture.md, highest first: the packages named in the
    `package` column of each row (`cli/`, `` `dev/` \\| `ops/` ``, `errors`)."""
    import re

    rows = []
    for line in (repo_root() / "docs" / "architecture.md").read_text().splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|(.*?)(?<!\\)\|", line)
        if match:
            names = re.findall(r"`([a-z_]+)/?`", match.group(2))
            rows.append((int(match.group(1)), set(names)))
    assert rows, "docs/architecture.md has no layer table"
    return [names for _, names in sorted(rows, key=lambda r: -r[0])]


def test_the_documented_layers_are_the_checked_ones() -> None:
    """docs/architecture.md's layer table and the contract `lint-imports` checks list the
    same packages in the same layers, in the same order: the doc cannot drift from the code."""
    assert _documented_layers() == _contract_layers()


def test_every_package_is_in_a_layer() -> None:
    """Each package and top-level module of mesh_platform sits in a layer of the contract."""
    package = repo_root() / "mesh_platform"
    found = {
        p.name if p.is_dir() else p.stem
        for p in package.iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    layered = set().union(*_contract_layers())
    assert found == layered
