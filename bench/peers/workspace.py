"""What the arms read and run: the 22 queries, the generated `tpch` domain in a copy of the
mesh, the dbt project (one per dbt arm) and the peers' environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mesh_platform.spec.workspace import repo_root

TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
DOMAIN = "tpch"
QUERIES = Path(__file__).with_name("queries.sql")
PEERS_VENV = repo_root() / "var" / "peers-venv"
UV = repo_root() / ".tools" / "bin" / "uv"
# The peers resolve with the project's dependencies but not with the dev tools (dbt-core 1.11
# wants pathspec < 0.13, mypy 2.4 pathspec >= 1; dbt-core 1.12 builds a wheel it downloads
# from outside PyPI): their own environment, from the same lock, without the dev group.
SYNC_PEERS = (
    f"UV_PROJECT_ENVIRONMENT={PEERS_VENV.relative_to(repo_root())} "
    ".tools/bin/uv sync --frozen --no-default-groups --group peers --compile-bytecode"
)


def queries() -> dict[str, str]:
    """`{"q01": sql, ...}` from queries.sql (each query after its `-- qNN` line)."""
    found: dict[str, str] = {}
    for block in re.split(r"^-- (q\d\d)\n", QUERIES.read_text(), flags=re.M)[1:]:
        if re.fullmatch(r"q\d\d", block):
            name = block
        else:
            found[name] = block.strip()
    return found


def table_spans(sql: str) -> list[tuple[int, int, str]]:
    """(start, end, table) of each TPC-H table the query reads, by position in its text."""
    import sqlglot
    from sqlglot import exp

    spans = []
    for table in sqlglot.parse_one(sql, read="spark").find_all(exp.Table):
        meta = table.this.meta
        if table.name in TABLES and "start" in meta:
            spans.append((meta["start"], meta["end"] + 1, table.name))
            assert sql[meta["start"] : meta["end"] + 1] == table.name, (table.name, meta)
    return sorted(spans)


def dbt_model(sql: str) -> str:
    """The query as a dbt model: each table read through `source('silver', table)`."""
    for start, end, table in reversed(table_spans(sql)):
        sql = f"{sql[:start]}{{{{ source('silver', '{table}') }}}}{sql[end:]}"
    return sql + "\n"


def _product(name: str, sql: str) -> str:
    tables = sorted({span[2] for span in table_spans(sql)})
    inputs = ", ".join(f"{t}: platform.silver_{t}" for t in tables)
    body = "\n".join(f"      {line}" if line else "" for line in sql.splitlines())
    return (
        f"name: {name}\ndescription: TPC-H {name.upper()} (bench.peers).\n"
        f"inputs: {{{inputs}}}\nsteps:\n  - sql: |\n{body}\n"
    )


def write_mesh(root: Path) -> None:
    """A copy of the demo's platform domain (bronze and silver) and a generated `tpch` domain
    of 22 products reading platform's silver tables, approved and cleared for PII (Q10, Q18,
    Q22 read customers' names and phones), as the demo's gold domains are."""
    checkout = repo_root()
    ignore = shutil.ignore_patterns("__pycache__", "tests")
    shutil.copytree(checkout / "domains/platform", root / "domains/platform", ignore=ignore)
    shutil.copy(checkout / "domains/__init__.py", root / "domains/__init__.py")
    shutil.copytree(checkout / "governance", root / "governance")
    folder = root / "domains" / DOMAIN
    (folder / "products").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "domain.yaml").write_text(
        f"name: {DOMAIN}\nteam: bench\ndescription: The 22 TPC-H queries as products.\n"
    )
    (folder / "definitions.py").write_text(
        "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
    )
    for name, sql in queries().items():
        (folder / "products" / f"{name}.yaml").write_text(_product(name, sql))
    approvals = "".join(
        f"  - {{consumer: {DOMAIN}, product: platform.silver_{t}, purpose: bench.peers}}\n"
        for t in TABLES
    )
    (root / "subscriptions.yaml").write_text(f"approved:\n{approvals}")
    with (root / "governance/clearances.yaml").open("a") as grants:
        grants.write(
            f"  - domain: {DOMAIN}\n    clearance: pii\n    granted_by: bench@example.com\n"
            "    granted_at: 2026-12-07\n    reason: The TPC-H queries read customers' details.\n"
        )
    (root / "workspace.yaml").write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module:\n      module_name: domains.{d}.definitions\n"
            f"      location_name: {d}\n"
            for d in ("platform", DOMAIN)
        )
    )


def write_dbt_project(folder: Path, lake: Path, database: Path) -> None:
    """A dbt project of the 22 models (tables in the DuckDB file `database`), its sources the
    silver Delta tables under `lake` through dbt-duckdb's `delta` plugin."""
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: tpch_peers\nversion: '1.0'\nconfig-version: 2\nprofile: tpch_peers\n"
        "flags: {send_anonymous_usage_stats: false}\n"
        "models:\n  tpch_peers:\n    +materialized: table\n"
    )
    profile = {
        "type": "duckdb", "path": str(database), "threads": 1, "plugins": [{"module": "delta"}]
    }
    (folder / "profiles.yml").write_text(
        json.dumps({"tpch_peers": {"target": "bench", "outputs": {"bench": profile}}}, indent=1)
    )
    tables = [
        {"name": t, "meta": {"delta_table_path": str(lake / "platform" / f"silver_{t}")}}
        for t in TABLES
    ]
    source = {"name": "silver", "schema": "silver", "meta": {"plugin": "delta"}, "tables": tables}
    (folder / "models/sources.yml").write_text(
        json.dumps({"version": 2, "sources": [source]}, indent=1)
    )
    for name, sql in queries().items():
        (folder / "models" / f"{name}.sql").write_text(dbt_model(sql))


def peers_python(install: bool) -> Path:
    """The peers environment's interpreter (dbt-core, dbt-duckdb, dagster-dbt), made from the
    lock file first when `install` and it has no dbt yet."""
    python = PEERS_VENV / "bin" / "python"
    if (PEERS_VENV / "bin" / "dbt").exists():
        return python
    if not install or not UV.exists():
        raise SystemExit(
            f"dbt is not installed for the peer benchmark. Fix: run `make install`, then "
            f"`{SYNC_PEERS}` in {repo_root()} (or drop --no-install)."
        )
    print(f"installing the peers: {SYNC_PEERS}", file=sys.stderr, flush=True)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(PEERS_VENV)}
    command = [str(UV), "sync", "--frozen", "--no-default-groups", "--group", "peers"]
    subprocess.run(
        [*command, "--compile-bytecode", "--python", sys.executable],
        cwd=repo_root(), env=env, check=True,
    )
    return python
