"""Cost of quality rules: one lineitem product materialized with and without ten rules.

Two products in a temporary mesh read the same landing lineitem (6M rows at scale 1) and
write it to Delta; one of them carries ten rules (every rule kind but `references`).
They are materialized alternately, `repeat` times each, through real Dagster runs; the
report gives the median times and the ratio (the budget is 1.20).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from mesh_platform.spec.workspace import repo_root

RULES = """\
quality:
  - {rule: not_null, column: l_orderkey}
  - {rule: not_null, column: l_shipdate}
  - {rule: unique, columns: [l_orderkey, l_linenumber]}
  - {rule: between, column: l_discount, min: 0, max: 0.1}
  - {rule: between, column: l_quantity, min: 1, max: 50}
  - {rule: accepted_values, column: l_returnflag, values: [R, A, N]}
  - rule: accepted_values
    column: l_shipmode
    values: [AIR, MAIL, SHIP, TRUCK, RAIL, FOB, REG AIR]
  - {rule: regex, column: l_linestatus, pattern: '^[OF]$'}
  - {rule: row_count, min: 1}
  - {rule: sql, name: received_after_shipping, severity: warn,
     sql: "SELECT l_orderkey FROM checked WHERE l_receiptdate < l_shipdate"}
"""


def _mesh(root: Path) -> None:
    bronze = (repo_root() / "domains/platform/products/bronze_lineitem.yaml").read_text()
    body = bronze.split("columns:", 1)[1]
    folder = root / "domains/bench/products"
    folder.mkdir(parents=True)
    (folder.parent / "domain.yaml").write_text("name: bench\nteam: bench\n")
    head = "description: lineitem\nsource: {landing: lineitem}\ncolumns:"
    (folder / "plain.yaml").write_text(f"name: plain\n{head}{body}")
    (folder / "checked.yaml").write_text(f"name: checked\n{head}{body}{RULES}")


def run(landing: Path, repeat: int = 5) -> dict[str, list[float]]:
    """Seconds per materialization of `plain` and `checked`, alternating."""
    import dagster as dg

    from mesh_platform.dagster.component import DataProduct
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.loader.mesh import load_mesh

    times: dict[str, list[float]] = {"plain": [], "checked": [], "audit": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _mesh(root)
        mesh = load_mesh(root)
        defs = dg.Definitions.merge(
            *(DataProduct(s.spec, s.path, root).build_defs() for s in mesh.of_domain("bench"))
        )
        assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
        lakehouse = Lakehouse(root=str(root / "lake"), landing_root=str(landing))
        instance = dg.DagsterInstance.ephemeral()
        # Warm-up: imports (Great Expectations, DuckDB) are paid once per process, not per run.
        from mesh_platform.quality.evaluate import _batch_definition

        _batch_definition()
        for _ in range(repeat):
            for name in ("plain", "checked"):
                started = time.perf_counter()
                result = dg.materialize(
                    assets,
                    selection=[dg.AssetKey(["bench", name])],
                    resources={"lakehouse": lakehouse},
                    instance=instance,
                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
                )
                assert result.success
                times[name].append(time.perf_counter() - started)
                if name == "checked":
                    checks = result.get_asset_check_evaluations()
                    assert len(checks) == 11 and all(c.passed for c in checks), checks
                    contract = next(c for c in checks if c.check_name == "contract")
                    times["audit"].append(float(contract.metadata["mesh/quality_seconds"].value))
    return times


def report(times: dict[str, list[float]]) -> str:
    """Median seconds side by side, and the ratio checked / plain."""
    plain, checked = statistics.median(times["plain"]), statistics.median(times["checked"])
    pairs = zip(times["plain"], times["checked"], strict=True)
    runs = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in pairs)
    audit = statistics.median(times["audit"])
    return (
        f"lineitem, 10 rules: without {plain:.2f}s, with {checked:.2f}s (median of "
        f"{len(times['plain'])}; runs without/with: {runs})\n"
        f"ratio with/without: {checked / plain:.3f} (budget 1.20); "
        f"the rules themselves (audit inside the run): median {audit:.2f}s"
    )
