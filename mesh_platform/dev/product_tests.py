"""Example-based product tests: a few input rows per input -> the expected output rows.

Domain teams keep them in `domains/<domain>/tests/<product>.yaml`. They run with pytest (the
root conftest collects them) and with `mesh test <domain.product>`, on the local engine,
without Dagster or the lakehouse. Each case is a development run: what it consumed is recorded
in the catalog with kind `development`, attributed to the product's domain.

A test file is checked as strictly as a spec (`case_checks.py`): unknown ports and columns,
missing inputs and values of the wrong type are errors with the file, line and choices.
"""

from __future__ import annotations

import difflib
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
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.cost import CostEntry, CostRates, product_team, record_cost
from mesh_platform.dev.case_checks import CaseChecker, Columns, columns_of
from mesh_platform.dev.example_values import BadValue, convert
from mesh_platform.engine import Usage, get_engine
from mesh_platform.engine.base import UsageMeter
from mesh_platform.errors import MeshError, SpecError
from mesh_platform.lake.increments import check_unique_keys
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.conform import conform
from mesh_platform.security.keys import Keyring
from mesh_platform.spec.yaml_source import YamlDocument, read_yaml, to_plain

TESTS_DIR = "tests"
FILE_KEYS = ("product", "cases")
LOG = logging.getLogger("mesh.cost")


@dataclass(frozen=True)
class ProductTestCase:
    """One example: input rows per port and the rows the product must produce.

    `errors` are the case's problems found at load (unknown ports or columns, values of the
    wrong type): such a case fails with them instead of running. `todo` marks a placeholder
    (the scaffold's `TODO ...` case): it fails as "not written yet".
    """

    product: str
    name: str
    inputs: dict[str, list[dict[str, Any]]]
    expected: list[dict[str, Any]]
    path: Path
    line: int | None
    ordered: bool = False
    errors: tuple[SpecError, ...] = ()
    todo: bool = False


@dataclass(frozen=True)
class CaseResult:
    """The outcome of a case: passed, failed with a readable diff, invalid, or not written."""

    case: ProductTestCase
    passed: bool
    diff: str = ""
    actual: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    status: str = ""

    @property
    def outcome(self) -> str:
        """`passed`, `failed` (other rows), `error` (invalid case or failed run), or `todo`."""
        return self.status or ("passed" if self.passed else "failed")


def load_cases(path: Path, mesh: Mesh) -> list[ProductTestCase]:
    """The cases of one test file, each checked against the product and its inputs.

    A problem of the file itself (not YAML, unknown product, no list of cases) raises a
    SpecError; a problem of one case is kept on the case (`errors`), so the other cases run.
    """
    document = read_yaml(path)
    raw = to_plain(document.data)
    domain = path.parent.parent.name
    product = raw.get("product")
    left_out = mesh.excluded.get((domain, str(product)))
    if left_out is not None or (
        (domain, product) in mesh.products and (domain, product) not in mesh.plans
    ):
        raise SpecError(
            f"product {domain}.{product} is left out: {left_out or 'its spec does not load'}",
            file=path,
            line=document.line_of(["product"]),
            fix="fix the product's spec first: `mesh validate` lists the errors",
        )
    if not product or (domain, product) not in mesh.products:
        known = sorted(p for d, p in mesh.products if d == domain)
        close = difflib.get_close_matches(str(product), known, n=1)
        raise SpecError(
            f"test file names unknown product {product!r} of domain {domain!r}"
            + (f" (did you mean {close[0]!r}?)" if close else ""),
            file=path,
            line=document.line_of(["product"]),
            fix=f"write `product: <name>`, one of: {', '.join(known) or '(none)'}",
        )
    for key in raw:
        if key not in FILE_KEYS:
            raise SpecError(
                f"unknown key {key!r}; a test file has: {', '.join(FILE_KEYS)}",
                file=path,
                line=document.line_of([key]),
            )
    if not isinstance(raw.get("cases"), list):
        raise SpecError(
            "a test file needs `cases:`, a list of cases",
            file=path,
            line=document.line_of(["cases"]),
            fix="see docs/product-tests.md for the layout",
        )
    ports, output = _columns(mesh, (domain, product))
    return [
        _case(document, index, case, f"{domain}.{product}", ports, output)
        for index, case in enumerate(raw["cases"])
    ]


def _columns(mesh: Mesh, key: tuple[str, str]) -> tuple[dict[str, Columns], Columns]:
    """The columns each input port offers, and the product's output columns."""

    def of(plan: ProductPlan | None) -> Columns:
        if plan is None:
            return {}
        return columns_of(plan.schema, {c.name: c.declared for c in plan.columns})

    spec = mesh.products[key].spec
    ports = {port: of(mesh.plans.get(ref)) for port, ref in spec.input_refs().items()}
    return ports, of(mesh.plans.get(key))


def _case(
    document: YamlDocument,
    index: int,
    case: Any,
    product: str,
    ports: dict[str, Columns],
    output: Columns,
) -> ProductTestCase:
    check = CaseChecker(document, index)
    if not isinstance(case, dict):
        check.error("a case is a mapping with `name:`, `inputs:` and `expected:`", [])
        case = {}
    check.keys(case)
    inputs = check.inputs(case.get("inputs"), ports)
    if "expected" not in case:
        check.error("a case needs `expected:`", [], fix="add `expected: []` for no rows")
    expected = check.rows(case.get("expected"), output, ["expected"], "expected")
    for port, rows in inputs.items():
        try:
            _input_table(rows, _declared(ports[port]))
        except (BadValue, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            check.error(
                f"input {port!r}: the values of a column do not share one type ({exc})",
                ["inputs", port],
                fix="write every value of a column with the same type",
            )
    if not isinstance(case.get("ordered", False), bool):
        check.error("`ordered:` is true or false", ["ordered"])
    name = str(case.get("name", f"case {index + 1}"))
    unwritten = "name" not in case and not any(inputs.values()) and not expected
    return ProductTestCase(
        product=product,
        name=name,
        inputs=inputs,
        expected=expected,
        path=document.path,
        line=document.line_of(["cases", index]),
        ordered=case.get("ordered") is True,
        errors=tuple(check.errors),
        todo=name.startswith("TODO") or unwritten,
    )


def _declared(columns: Columns) -> dict[str, str]:
    return {n: c.type if c.declared else UNKNOWN for n, c in columns.items()}


def discover(mesh: Mesh, target: str | None = None) -> list[Path]:
    """Test files of every domain, of one domain, or of one product."""
    files = []
    for name, domain in sorted(mesh.domains.items()):
        for path in sorted((domain.folder / TESTS_DIR).glob("*.yaml")):
            if target in (None, name, f"{name}.{path.stem}"):
                files.append(path)
    return files


def _input_table(rows: list[dict[str, Any]], schema: dict[str, str]) -> pa.Table:
    """An input's rows as a table of its columns, values converted to their declared types.

    Raises `BadValue` for a value that does not fit (checked at load for a test file's cases).
    """
    columns = dict(schema) or {k: UNKNOWN for r in rows for k in r}
    arrays = {}
    for name, spec_type in columns.items():
        target = arrow_type(spec_type) if spec_type != UNKNOWN else None
        values = [convert(row.get(name), spec_type) for row in rows]
        arrays[name] = pa.array(values, type=target) if target else pa.array(values)
    return pa.table(arrays)


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


def _heading(case: ProductTestCase) -> str:
    return f"{case.product}: case {case.name!r} ({case.path}:{case.line})"


def run_case(case: ProductTestCase, mesh: Mesh) -> CaseResult:
    """Run the product's steps on the case's rows and compare with the expected rows.

    An invalid case (see `ProductTestCase.errors`) and a placeholder do not run; a run that
    fails (the SQL, the contract) is the case's failure, reported as one message.
    """
    not_run = _not_runnable(case)
    if not_run is not None:
        return not_run
    domain, _, name = case.product.partition(".")
    spec = mesh.products[(domain, name)].spec
    plan = mesh.plans[(domain, name)]
    try:
        inputs = {
            port: _input_table(case.inputs.get(port, []), mesh.plans[ref].declared_schema)
            for port, ref in spec.input_refs().items()
        }
    except (BadValue, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        return CaseResult(
            case, False, f"{_heading(case)}\n  invalid input rows: {exc}", status="error"
        )
    # Example rows are test data: keyed functions use the public dev keys, never real ones.
    engine = get_engine(spec.engine, threads=1, keys=Keyring.dev())
    meter = UsageMeter()
    try:
        with meter.measure():
            result = conform(engine.run(plan, inputs).table, plan, case.product)
        if spec.write in ("merge", "scd2"):  # one row per key, or the merge is ambiguous
            check_unique_keys(result, spec.keys)
    except MeshError as exc:
        return CaseResult(
            case,
            False,
            f"{_heading(case)}\n  the product failed on these rows: {exc}",
            status="error",
        )
    return _compare_rows(case, result, _case_usage(meter, inputs, result))


def _not_runnable(case: ProductTestCase) -> CaseResult | None:
    """The result of a case that does not run (invalid, or a placeholder); None if it runs."""
    if case.errors:
        text = "\n".join(f"  {line}" for e in case.errors for line in str(e).splitlines())
        return CaseResult(case, False, f"{_heading(case)}\n{text}", status="error")
    if case.todo:
        return CaseResult(
            case,
            False,
            f"{_heading(case)}\n  not written yet: give the case a name saying what it checks, "
            "rows for its inputs and the rows the product must produce",
            status="todo",
        )
    return None


def _case_usage(meter: UsageMeter, inputs: dict[str, pa.Table], result: pa.Table) -> Usage:
    """What the case's run used: the meter's times and memory, the rows and bytes in and out."""
    return Usage(
        meter.usage.wall_seconds,
        meter.usage.cpu_seconds,
        rows_out=result.num_rows,
        bytes_out=result.nbytes,
        rows_in=sum(t.num_rows for t in inputs.values()),
        bytes_in=sum(t.nbytes for t in inputs.values()),
        process_peak_memory_mb=meter.usage.process_peak_memory_mb,
    )


def _compare_rows(case: ProductTestCase, result: pa.Table, usage: Usage) -> CaseResult:
    """The product's rows against the case's expected rows (in order when the case says so),
    on the columns the expected rows name (all the product's when they name none)."""
    unknown = sorted({k for row in case.expected for k in row} - set(result.column_names))
    if unknown:  # only when the plan does not know the output columns (a Python step)
        return CaseResult(
            case,
            False,
            f"{_heading(case)}\n  expected rows name unknown column(s) {', '.join(unknown)}; "
            f"the product produces: {', '.join(result.column_names)}",
            usage=usage,
            status="error",
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
    lines = [_heading(case)]
    for key, count in (want - got).items():
        lines.extend(f"  - expected, not produced: {dict(key)}" for _ in range(count))
    for key, count in (got - want).items():
        lines.extend(f"  + produced, not expected: {dict(key)}" for _ in range(count))
    if case.ordered and len(lines) == 1:
        lines.append("  rows match but their order differs (the case says `ordered: true`)")
        lines.extend(f"    got #{i + 1}: {dict(_row_key(r))}" for i, r in enumerate(actual))
    return "\n".join(lines)
