"""Bad inputs a domain team might write, each answered with the file, the line and a fix, and
refused where it cannot work (issue 21, item 5).

Each spec case is checked the way `mesh validate` and the code locations check it
(`validate_errors`: the same errors from both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.plan import plan_product
from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.engine.duckdb.translate import to_duckdb
from mesh_platform.errors import PlatformError, SpecError
from mesh_platform.lake.lakehouse import Lakehouse, LandingError
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.materialize import materialize_product
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import DomainSpec, ProductSpec, PythonStep, SqlStep, domain_notices
from tests.mini_mesh import local_lakehouse, validate_errors, write_mesh

SOURCE = """\
name: source
description: A landing copy.
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
  - {name: name, type: string}
visibility: published
"""

SEQUENCE = "name: x\ndescription: A sequence of another domain.\nsteps: '- sql: SELECT 1 AS one'\n"


def product(steps: str, extra: str = "") -> str:
    """`d.base`: reads `other.source`; `steps` start on line 5."""
    return f"name: base\ndescription: Base.\ninputs: {{src: other.source}}\nsteps:\n{steps}{extra}"


def mesh(root: Path, text: str | None = None, domain_extra: str = "") -> Path:
    """`other.source` (and `other`'s own sequence `x`), plus `d.base` when `text` is given."""
    products = {"other": {"source": SOURCE}}
    if text is not None:
        products["d"] = {"base": text}
    write_mesh(root, products, domain_extra=domain_extra)
    for domain in products:
        (root / "domains" / domain / "sequences").mkdir()
    (root / "domains/other/sequences/x.yaml").write_text(SEQUENCE)
    return root


def only_error(root: Path) -> SpecError:
    errors = validate_errors(root)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


SELECT = "  - sql: SELECT id, name, amount FROM src\n"
PRODUCT = "domains/d/products/base.yaml"
OTHER_DOMAIN = "domains/other/domain.yaml"

INCLUDE = SELECT + "  - include: "


def in_product(case: str, steps: str, line: int, problem: str, fix: str, rule: str = "") -> object:
    """A case of `d.base` with `steps` (and a quality `rule`), the error at its `line`."""
    text = product(steps, f"quality:\n  - {rule}\n" if rule else "")
    return pytest.param(text, "", PRODUCT, line, problem, fix, id=case)


def in_domain(case: str, extra: str, problem: str, fix: str) -> object:
    """A case of `other`'s domain.yaml with `extra` on its line 3."""
    return pytest.param(None, extra, OTHER_DOMAIN, 3, problem, fix, id=case)


NOT_A_MAPPING = "`with:` must be a mapping of parameter: value, not a"
LEAVES = "an include cannot leave the sequences folders"
NO_STAR = "cannot be given Spark's meaning here: the local engine cannot expand *"
CASES = [
    in_product("include with a list", INCLUDE + "protect_contacts\n    with: [name]\n", 6,
               f"{NOT_A_MAPPING} list", "with: {encrypt: [...], pseudonymize: [...]}"),
    in_product("include with a text", INCLUDE + "protect_contacts\n    with: name\n", 6,
               f"{NOT_A_MAPPING} string", "parameters of protect_contacts: encrypt, pseudonymize"),
    in_product("include into another domain", INCLUDE + "../../other/sequences/x\n", 6, LEAVES,
               "include: x"),
    in_product("include of a product", INCLUDE + "../../other/products/source\n", 6, LEAVES,
               "domains/d/sequences/source.yaml"),
    in_product("include of an absolute path", INCLUDE + "/etc/passwd\n", 6, LEAVES,
               "standards/sequences/"),
    in_product("between with min above max", SELECT, 7,
               "rule 'between': min (10) is above max (1); no value can pass", "swap min and max",
               rule="{rule: between, column: amount, min: 10, max: 1}"),
    in_product("row_count with min above max", SELECT, 7,
               "rule 'row_count': min (100) is above max (10)", "swap min and max",
               rule="{rule: row_count, min: 100, max: 10}"),
    in_product("regex that does not compile", SELECT, 7,
               "rule 'regex': pattern '[a-' is invalid: unterminated character set at position 0",
               "escape a literal one with a backslash",
               rule="{rule: regex, column: name, pattern: '[a-'}"),
    in_product("to_json(struct(*))", "  - sql: SELECT id, to_json(struct(*)) AS j FROM src\n", 5,
               f"struct(*) {NO_STAR}", "struct(a, b, ...) gives the same fields"),
    in_product("struct(src.*)",
               "  - sql: |\n      SELECT id,\n        to_json(struct(src.*)) AS j\n"
               "      FROM src\n", 7, f"struct(*) {NO_STAR}", "name the columns"),
    in_product("concat_ws(',', *)", "  - sql: SELECT id, concat_ws(',', *) AS j FROM src\n", 5,
               f"concat_ws(*) {NO_STAR}", "concat_ws(..., a, b) instead of concat_ws(..., *)"),
    in_domain("on_call not an address", "on_call: the sales team\n",
              "on_call 'the sales team' is not an email address",
              "on_call: other-oncall@example.com"),
    in_domain("on_call a channel", "on_call: webhook:sales\n",
              "on_call 'webhook:sales' is not an email address", "channels: [webhook:sales]"),
    in_domain("a channel of no kind", "channels: [sales-alerts]\n",
              "channel 'sales-alerts' is not one of webhook:<name>, slack:<name>, email:<address>",
              "webhook:sales-alerts"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "domain_extra", "file", "line", "problem", "fix"), CASES)
def test_a_bad_spec_is_answered_with_file_line_and_fix(
    tmp_path: Path,
    text: str | None,
    domain_extra: str,
    file: str,
    line: int,
    problem: str,
    fix: str,
) -> None:
    root = mesh(tmp_path, text, domain_extra)
    error = only_error(root)
    assert problem in error.problem
    assert error.file == root / file
    assert error.line == line
    assert error.fix and fix in error.fix


def test_a_sequence_named_by_its_name_still_includes(tmp_path: Path) -> None:
    root = mesh(tmp_path, product(SELECT))
    (root / "domains/d/sequences/x.yaml").write_text(SEQUENCE)
    (root / "domains/d/products/base.yaml").write_text(product(SELECT + "  - include: x\n"))
    plan = load_mesh(root).plans[("d", "base")]
    assert list(plan.schema) == ["one"]


def test_a_domain_with_nobody_to_notify_is_told_so() -> None:
    path = Path("domains/d/domain.yaml")
    nobody = DomainSpec(name="d", team="d-team", owners=("team:d-team",))
    (notice,) = domain_notices(nobody, path)
    assert notice.file == path and notice.line == 1
    assert notice.problem == (
        "domain 'd' names nobody to notify: alerts of its failures reach no one (owners are "
        "not notified; the notifier sends to `on_call` and `channels`)"
    )
    assert notice.fix and "on_call: d-oncall@example.com" in notice.fix
    assert "channels: [webhook:<name>]" in notice.fix
    for reachable in (
        DomainSpec(name="d", team="d-team", on_call="d-oncall@example.com"),
        DomainSpec(name="d", team="d-team", channels=("webhook:d",)),
    ):
        assert domain_notices(reachable, path) == []


def test_mesh_validate_reports_a_domain_with_nobody_to_notify(tmp_path: Path) -> None:
    root = mesh(tmp_path)
    notices = load_mesh(root).notices
    assert [str(n) for n in notices] == [
        str(n)
        for n in domain_notices(DomainSpec(name="other", team="other-team"), root / OTHER_DOMAIN)
    ]


# Python step modules that do not import: the module's text and the line that fails.
BROKEN_MODULES = [
    pytest.param("import nonexistent_pkg_q\n\n\ndef run(df):\n    return df\n", 1, id="import"),
    pytest.param("def run(df):\n    return df\n\n\nVALUE = 1 / 0\n", 5, id="error at import"),
    pytest.param(
        "def run(df):\n    return df +\n",
        2,
        id="syntax error",
    ),
]


@pytest.mark.parametrize(("body", "module_line"), BROKEN_MODULES)
def test_a_python_step_whose_module_does_not_import_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, module_line: int
) -> None:
    module = f"bad_step_{abs(hash(body)) % 10**8}"
    (tmp_path / f"{module}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    root = mesh(tmp_path, product(SELECT + f"  - python: {module}:run\n"))
    error = only_error(root)
    module_file = tmp_path / f"{module}.py"
    assert error.file == root / PRODUCT and error.line == 6
    assert error.problem.startswith(f"python step 'step_2': module {module!r} does not import: ")
    assert f"({module_file}:{module_line})" in error.problem
    assert error.fix and f"fix {module_file}:{module_line}" in error.fix


def test_the_plan_answers_a_step_module_with_a_syntax_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "bad_step_syntax"
    (tmp_path / f"{module}.py").write_text("def run(df):\n    return df +\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    spec = ProductSpec(
        domain="d",
        name="base",
        description="Base.",
        inputs={"src": "other.source"},
        steps=(SqlStep(sql="SELECT id FROM src"), PythonStep(python=f"{module}:run")),
    )
    with pytest.raises(SpecError) as caught:
        plan_product(ProductSource(spec, tmp_path / "base.py"), {"src": {"id": "bigint"}})
    where = f"{tmp_path / module}.py:2"
    assert caught.value.problem == (
        f"python step 'step_2': module {module!r} does not import: SyntaxError: invalid syntax "
        f"({where})"
    )
    assert caught.value.fix and caught.value.fix.startswith(f"fix {where}; ")


def test_a_python_step_of_a_module_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    root = mesh(tmp_path, product(SELECT + "  - python: no_such_steps_module:run\n"))
    error = only_error(root)
    assert error.problem == (
        "python step cannot import 'no_such_steps_module': No module named 'no_such_steps_module'"
    )
    assert error.line == 6 and error.fix and "domains/<domain>/" in error.fix


def _landing(root: Path) -> tuple[Path, Lakehouse]:
    lakehouse = local_lakehouse(root)
    pl.DataFrame(
        {"id": [], "amount": [], "name": []},
        schema={"id": pl.Int64, "amount": pl.Float64, "name": pl.String},
    ).write_parquet(root / "landing" / "source.parquet")
    return root / "lake" / "other" / "source", lakehouse


def test_the_first_ingestion_of_an_empty_export_is_refused(tmp_path: Path) -> None:
    root = mesh(tmp_path)
    table, lakehouse = _landing(root)
    loaded = load_mesh(root)
    spec, plan = loaded.products[("other", "source")].spec, loaded.plans[("other", "source")]
    with pytest.raises(LandingError) as caught:
        materialize_product(spec, plan, lakehouse)
    assert isinstance(caught.value, PlatformError)
    assert str(caught.value) == (
        "landing file source.parquet (for other.source) is empty and other.source was never "
        "published: nothing is written. Fix: have the source re-export it with its rows, or "
        "write `source: {landing: source, allow_empty: true}` if an empty first version is meant"
    )
    assert not table.exists()


def test_an_empty_first_export_is_published_when_the_spec_allows_it(tmp_path: Path) -> None:
    allowed = SOURCE.replace("{landing: source}", "{landing: source, allow_empty: true}")
    root = write_mesh(tmp_path, {"other": {"source": allowed}})
    table, lakehouse = _landing(root)
    loaded = load_mesh(root)
    spec, plan = loaded.products[("other", "source")].spec, loaded.plans[("other", "source")]
    assert spec.source is not None and spec.source.allow_empty
    done = materialize_product(spec, plan, lakehouse)
    assert done.written.rows == 0 and pl.read_delta(str(table)).height == 0
    assert done.warnings == (
        "landing file source.parquet (for other.source) is empty: 0 rows written",
    )


def test_allow_empty_must_be_a_boolean(tmp_path: Path) -> None:
    bad = SOURCE.replace("{landing: source}", "{landing: source, allow_empty: maybe}")
    error = only_error(write_mesh(tmp_path, {"other": {"source": bad}}))
    assert error.problem.startswith("field `source.allow_empty`: ")
    assert error.line == 3


T = pa.table({"s": ["Spark SQL", "é", None], "b": [b"ab", b"", None]})


@pytest.mark.parametrize(
    ("expr", "values"),
    [
        # api/sql#base64: base64('Spark SQL') is U3BhcmsgU1FM; a string is read as its UTF-8
        # bytes (Spark's implicit cast of a string to binary).
        ("base64(s)", ["U3BhcmsgU1FM", "w6k=", None]),
        ("base64(CAST(s AS BINARY))", ["U3BhcmsgU1FM", "w6k=", None]),
        ("base64(b)", ["YWI=", "", None]),
        ("base64('a\\\\x41')", ["YVx4NDE="] * 3),
    ],
)
def test_base64_of_a_string_runs_with_sparks_meaning(expr: str, values: list[object]) -> None:
    sql = f"SELECT {expr} AS v FROM t"
    query = sqlmod.parse(sql)
    sqlmod.check_functions(query, sql)
    sqlmod.validate(query, sql, {"t": {"s": "string", "b": "binary"}})
    con = DuckDBEngine()._connect({"t": T})
    assert con.sql(to_duckdb(query, con)).to_arrow_table().column(0).to_pylist() == values


def test_a_product_using_base64_of_a_string_validates_and_runs(tmp_path: Path) -> None:
    steps = "  - sql: SELECT id, base64(name) AS token FROM src\n"
    root = mesh(tmp_path, product(steps))
    lakehouse = local_lakehouse(root)
    pl.DataFrame({"id": [1], "amount": [1.5], "name": ["Spark SQL"]}).write_parquet(
        root / "landing" / "source.parquet"
    )
    loaded = load_mesh(root)
    for key in (("other", "source"), ("d", "base")):
        materialize_product(loaded.products[key].spec, loaded.plans[key], lakehouse)
    assert pl.read_delta(str(root / "lake/d/base")).to_dicts() == [
        {"id": 1, "token": "U3BhcmsgU1FM"}
    ]
