"""Example-based product tests: a few input rows per input -> the expected output rows.

Domain teams keep them in `domains/<domain>/tests/<product>.yaml`. They run with pytest (the
root conftest collects them) and with `mesh test <domain.product>`, on the local engine,
without Dagster or the lakehouse. Each case is a development run: what it consumed is recorded
in the catalog with kind `development`, attributed to the product's domain.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from mesh_platform.column_types import UNKNOWN, arrow_type
from mesh_platform.cost import CostEntry, CostRates, product_team, record_cost
from mesh_platform.engine import Usage, get_engine
from mesh_platform.engine.base import UsageMeter
from mesh_platform.errors import SpecError
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.conform import conform
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.yaml_source import read_yaml, to_plain

TESTS_DIR = "tests"
LOG = logging.getLogger("mesh.cost")


@dataclass(frozen=True)
class ProductTestCase:
    """One example: input rows per port and the rows the product must produce."""

    product: str
    name: str
    inputs: dict[str, list[dict[str, Any]]]
    expected: list[dict[str, Any]]
    path: Path
    line: int | None
    ordered: bool = False


@dataclass(frozen=True)
class CaseResult:
    """The outcome of a case: passed, or a readable diff."""

    case: ProductTestCase
    passed: bool
    diff: str = ""
    actual: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None


def load_cases(path: Path, mesh: Mesh) -> list[ProductTestCase]:
    """The cases of one test file."""
    document = read_yaml(path)
    raw = to_plain(document.data)
    domain = path.parent.parent.name
    product = raw.get("product")
    if not product or (domain, product) not in mesh.products:
        raise SpecError(
            f"test file names unknown product {product!r} of domain {domain!r}",
            file=path,
            line=document.line_of(["product"]),
            fix="write `product: <name>` of a product in this domain",
        )
    cases = []
    for index, case in enumerate(raw.get("cases") or []):
        line = document.line_of(["cases", index])
        if not isinstance(case, dict) or "expected" not in case:
            raise SpecError("a case needs `inputs:` and `expected:`", file=path, line=line)
        ports = mesh.products[(domain, product)].spec.inputs
        unknown = [p for p in (case.get("inputs") or {}) if p not in ports]
        if unknown:
            raise SpecError(
                f"case gives rows for unknown input {unknown[0]!r}; inputs: {', '.join(ports)}",
                file=path,
                line=line,
            )
        cases.append(
            ProductTestCase(
                product=f"{domain}.{product}",
                name=str(case.get("name", f"case {index + 1}")),
                inputs=case.get("inputs") or {},
                expected=case["expected"] or [],
                path=path,
                line=line,
                ordered=bool(case.get("ordered", False)),
            )
        )
    return cases


def discover(mesh: Mesh, target: str | None = None) -> list[Path]:
    """Test files of every domain, of one domain, or of one product."""
    files = []
    for name, domain in sorted(mesh.domains.items()):
        for path in sorted((domain.folder / TESTS_DIR).glob("*.yaml")):
            if target in (None, name, f"{name}.{path.stem}"):
                files.append(path)
    return files


def _input_table(rows: list[dict[str, Any]], schema: dict[str, str]) -> pa.Table:
    columns = dict(schema) or {k: UNKNOWN for r in rows for k in r}
    arrays = {}
    for name, spec_type in columns.items():
        target = arrow_type(spec_type) if spec_type != UNKNOWN else None
        values = [_coerce(row.get(name), target) for row in rows]
        arrays[name] = pa.array(values, type=target) if target else pa.array(values)
    return pa.table(arrays)


def _coerce(value: Any, target: pa.DataType | None) -> Any:
    if value is None or target is None:
        return value
    if pa.types.is_date(target) and isinstance(value, str):
        return date.fromisoformat(value)
    if pa.types.is_timestamp(target) and isinstance(value, str):
        return datetime.fromisoformat(value)
    if pa.types.is_decimal(target):
        return Decimal(str(value))
    if pa.types.is_floating(target):
        return float(value)
    return value


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _row_key(row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _normal(v)) for k, v in row.items()))


def run_case(case: ProductTestCase, mesh: Mesh) -> CaseResult:
    """Run the product's steps on the case's rows and compare with the expected rows."""
    domain, _, name = case.product.partition(".")
    spec = mesh.products[(domain, name)].spec
    plan = mesh.plans[(domain, name)]
    inputs = {
        port: _input_table(case.inputs.get(port, []), mesh.plans[ref].declared_schema)
        for port, ref in spec.input_refs().items()
    }
    # Example rows are test data: keyed functions use the public dev keys, never real ones.
    engine = get_engine(spec.engine, threads=1, keys=Keyring.dev())
    meter = UsageMeter()
    with meter.measure():
        result = conform(engine.run(plan, inputs).table, plan, case.product)
    usage = Usage(
        meter.usage.wall_seconds,
        meter.usage.cpu_seconds,
        rows_out=result.num_rows,
        bytes_out=result.nbytes,
        rows_in=sum(t.num_rows for t in inputs.values()),
        bytes_in=sum(t.nbytes for t in inputs.values()),
        process_peak_memory_mb=meter.usage.process_peak_memory_mb,
    )
    columns = sorted({k for row in case.expected for k in row}) or result.column_names
    actual = [{c: row.get(c) for c in columns} for row in result.to_pylist()]
    expected = [{c: row.get(c) for c in columns} for row in case.expected]
    if case.ordered:
        passed = [_row_key(r) for r in actual] == [_row_key(r) for r in expected]
    else:
        passed = Counter(map(_row_key, actual)) == Counter(map(_row_key, expected))
    diff = "" if passed else render_diff(case, expected, actual)
    return CaseResult(case, passed, diff, actual, usage)


def record_development(result: CaseResult, mesh: Mesh) -> None:
    """Record a case's run as development cost in this environment's catalog (`mesh test`).

    Only the command records: pytest runs of the same cases are the platform's own test
    suite, not a domain's development work, and must not write into a catalog. A failure to
    record is only a warning.
    """
    from mesh_platform.config import environment

    if result.usage is None:
        return
    domain, _, name = result.case.product.partition(".")
    spec = mesh.products[(domain, name)].spec
    entry = CostEntry(
        product=result.case.product,
        domain=domain,
        run_id=f"test-{uuid.uuid4().hex}",
        kind="development",
        usage=result.usage,
        rates=CostRates.from_environment(),
        team=product_team(spec.owners),
    )
    warning = record_cost(environment.catalog_url(), entry)
    if warning is not None:
        LOG.warning(warning)


def render_diff(
    case: ProductTestCase, expected: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> str:
    """Rows expected but not produced (-) and produced but not expected (+)."""
    want, got = Counter(map(_row_key, expected)), Counter(map(_row_key, actual))
    lines = [f"{case.product}: case {case.name!r} ({case.path}:{case.line})"]
    for key, count in (want - got).items():
        lines.extend(f"  - expected, not produced: {dict(key)}" for _ in range(count))
    for key, count in (got - want).items():
        lines.extend(f"  + produced, not expected: {dict(key)}" for _ in range(count))
    if case.ordered and len(lines) == 1:
        lines.append("  rows match but their order differs (the case says `ordered: true`)")
        lines.extend(f"    got #{i + 1}: {dict(_row_key(r))}" for i, r in enumerate(actual))
    return "\n".join(lines)
