"""Ecosystem conventions: `mesh --version`, `mesh list` by domain, Dagster's `dg` CLI from the
project root, and docs that point only inside the repository."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.loader import mesh as mesh_module
from mesh_platform.spec.workspace import repo_root
from tests.mini_mesh import write_mesh
from tests.test_spec_errors import SOURCE

ROOT = repo_root()
LONG = (
    "Which shipments left late, per carrier and week, and by how many days? This sentence "
    "makes the description longer than any terminal column, and it must be shown whole."
)


def test_version_comes_from_the_package_metadata() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mesh"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mesh {importlib.metadata.version('mesh')}\n"


def test_list_groups_products_by_domain_with_owners_and_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipments = f"""\
        name: late_shipments
        description: {LONG}
        inputs: {{src: other.source}}
        steps: [{{sql: SELECT id FROM src}}]
        schedule: "0 6 * * 1"
        automation: on_cron
        owners: [ops@example.com]
        """
    eager = """\
        name: eager_copy
        description: A copy.
        inputs: {src: late_shipments}
        steps: [{sql: SELECT id FROM src}]
        automation: eager
        """
    root = write_mesh(
        tmp_path,
        {
            "other": {"source": SOURCE},
            "logistics": {"late_shipments": shipments, "eager_copy": eager},
            "empty": {},
        },
    )
    monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: root)
    mesh_module._load_cached.cache_clear()

    rows = json.loads(CliRunner().invoke(main, ["list", "--json"]).output)
    late = next(r for r in rows if r["product"] == "logistics.late_shipments")
    assert late["description"] == LONG  # the full text
    assert (late["domain"], late["team"]) == ("logistics", "logistics-team")
    assert (late["owners"], late["schedule"]) == (["ops@example.com"], "on_cron 0 6 * * 1")
    assert [r["product"] for r in rows] == [
        "logistics.eager_copy",
        "logistics.late_shipments",
        "other.source",
    ]
    assert [r["schedule"] for r in rows] == ["eager", "on_cron 0 6 * * 1", "manual"]

    text = CliRunner().invoke(main, ["list"]).output
    blocks = text.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        "empty  (team empty-team; owners: team:empty-team)",
        "logistics  (team logistics-team; owners: team:logistics-team)",
        "other  (team other-team; owners: team:other-team)",
    ]
    assert "no products yet: `mesh scaffold product empty NAME --input ...`" in blocks[0]
    logistics = blocks[1].splitlines()
    assert re.match(r"  late_shipments +internal +on_cron 0 6 \* \* 1$", logistics[3])
    assert " ".join(line.strip() for line in logistics[4:-1]) == LONG
    assert logistics[-1].strip() == "owners: ops@example.com"  # not the domain's owners
    assert max(len(line) for line in text.splitlines()) <= 106

    only = CliRunner().invoke(main, ["list", "--domain", "other"]).output
    assert only.splitlines()[0].startswith("other  (team other-team")
    assert "logistics" not in only
    missing = CliRunner().invoke(main, ["list", "--domain", "nope"])
    assert missing.exit_code == 1
    assert "no domain 'nope'; domains: empty, logistics, other" in missing.output


def _dg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
    env |= {"MESH_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dg"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_dg_list_defs_lists_every_product_of_every_code_location(tmp_path: Path) -> None:
    result = _dg(tmp_path, "list", "defs", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    listed = json.loads(result.stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    products = json.loads(CliRunner().invoke(main, ["list", "--json"]).output)
    assert assets == {r["product"].replace(".", "/") for r in products}
    sensors = {s["name"] for s in listed["sensors"]}
    assert {"mesh_failure_routing", "mesh_quality_history"} <= sensors
    assert "does not match the virtual environment" not in result.stderr
    # The platform's component is registered for `dg` (`registry_modules`).
    components = json.loads(_dg(tmp_path, "list", "components", "--json").stdout)
    keys = {item["key"] for item in components["items"]}
    assert "mesh_platform.dagster.component.DataProduct" in keys


def test_dg_check_defs_loads_every_code_location(tmp_path: Path) -> None:
    result = _dg(tmp_path, "check", "defs")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "All definitions loaded successfully." in result.stdout


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_point_only_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert "../shared" not in text and "/work/" not in text, doc
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        assert (doc.parent / target).resolve().is_relative_to(ROOT), (doc.name, target)
        assert (doc.parent / target).exists(), (doc.name, target)


def test_list_shows_the_sound_domains_beside_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (
        "name: broken\ndescription: x\ninputs: {src: other.nothing}\nsteps: [{sql: SELECT 1}]\n"
    )
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "bad": {"broken": broken}})
    (root / "domains" / "worse").mkdir()
    (root / "domains" / "worse" / "domain.yaml").write_text("name: worse\nteam: [a list]\n")
    monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: root)
    mesh_module._load_cached.cache_clear()
    result = CliRunner().invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["product"] for r in json.loads(result.stdout)] == ["other.source"]
    assert "warning: bad.broken is left out" in result.stderr
    assert "warning:" in result.stderr and "worse" in result.stderr
    # A product can still be scaffolded in a sound domain; a broken one says to fix it first.
    made = CliRunner().invoke(main, ["scaffold", "product", "other", "copy", "--input", "s=source"])
    assert made.exit_code == 0, made.output
    refused = CliRunner().invoke(
        main, ["scaffold", "product", "worse", "x", "--input", "s=other.source"]
    )
    assert refused.exit_code == 1
    assert "domain 'worse' does not load" in refused.output and "mesh validate" in refused.output
    refused = CliRunner().invoke(
        main, ["scaffold", "product", "other", "x", "--input", "s=bad.broken"]
    )
    assert refused.exit_code == 1 and "input s=bad.broken is left out" in refused.output


def _environment_reads(path: Path) -> list[int]:
    """Lines of `path` that read a variable of the process environment (`os.getenv`,
    `os.environ.get`, `os.environ[...]` read, `... in os.environ`); setting one for a child
    process (`os.environ[k] = v`, `setdefault`, `update`, `clear`, `copy`) is not a read."""
    import ast

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "getenv" or (
                node.func.attr == "get" and is_environ(node.func.value)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and is_environ(node.value):
            if isinstance(node.ctx, ast.Load):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            lines.append(node.lineno)
    return lines


def test_only_the_environment_module_reads_the_environment() -> None:
    """docs/architecture.md, 'Environments': one module reads the process environment, when
    resources are built or a command starts; the rest is given what it needs."""
    package = repo_root() / "mesh_platform"
    reads = {
        str(path.relative_to(package)): lines
        for path in sorted(package.rglob("*.py"))
        if (lines := _environment_reads(path))
    }
    assert reads == {"config/environment.py": reads.get("config/environment.py", [])}
    assert reads["config/environment.py"], "the check finds the reads it should"


MAX_FUNCTION_LINES = 60  # `def` to the last line, docstring included
MAX_MODULE_LINES = 400
# Functions allowed over MAX_FUNCTION_LINES for now ("module.py function": why). Keep it empty:
# an entry is a split someone has promised.
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}


def test_functions_and_modules_are_short() -> None:
    """No function of mesh_platform/ is longer than 60 lines and no module longer than 400: a
    long function is split into functions that each do one job, a long module by topic."""
    import ast

    package = repo_root() / "mesh_platform"
    too_long = []
    for path in sorted(package.rglob("*.py")):
        module = str(path.relative_to(package))
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"module {module}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            allowed = f"{module} {node.name}" in LONG_FUNCTIONS_ALLOWED
            if length > MAX_FUNCTION_LINES and not allowed:
                too_long.append(
                    f"function {module}:{node.lineno} {node.name}: {length} lines "
                    f"(at most {MAX_FUNCTION_LINES})"
                )
    assert not too_long, "split these:\n" + "\n".join(too_long)
