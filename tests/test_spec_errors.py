"""Every kind of bad spec gives a clear error naming the file, the line and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mesh_platform.errors import SpecError
from mesh_platform.loader.mesh import load_mesh
from tests.mini_mesh import refused, validate_errors, write_mesh

BASE = """\
name: base
description: Base product.
inputs: {src: other.source}
steps:
  - sql: |
      SELECT id, amount FROM src
"""

SOURCE = """\
name: source
description: A landing copy.
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
visibility: published
"""


def only_error(root: Path) -> SpecError:
    errors = validate_errors(root)  # also checks that the code locations agree
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def test_a_valid_mesh_loads(tmp_path: Path) -> None:
    mesh = load_mesh(write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": BASE}}))
    assert mesh.schema(("d", "base")) == {"id": "bigint", "amount": "double"}
    assert mesh.products[("d", "base")].spec.owners == ("team:d-team",)


def test_malformed_yaml(tmp_path: Path) -> None:
    bad = "name: broken\ndescription: x\ninputs: {src: other.source\nsteps: []\n"
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"broken": bad}})
    error = only_error(root)
    assert error.file == root / "domains/d/products/broken.yaml"
    assert error.line == 4
    assert "malformed YAML" in error.problem
    assert error.fix and "indentation" in error.fix


def test_missing_field(tmp_path: Path) -> None:
    text = BASE.replace("description: Base product.\n", "")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert error.problem == "missing required field `description`"
    assert error.line == 1
    assert error.fix == "add `description:` to the spec"


def test_unknown_field_points_at_its_line(tmp_path: Path) -> None:
    text = BASE + "shedule: '0 6 * * *'\n"
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert error.problem == "unknown field `shedule`"
    assert error.line == 7


def test_wrong_type(tmp_path: Path) -> None:
    text = BASE.replace("steps:", "visibility: public\nsteps:")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert "field `visibility`" in error.problem and "'internal' or 'published'" in error.problem
    assert error.line == 4


def test_wrong_column_type(tmp_path: Path) -> None:
    text = SOURCE.replace("type: double", "type: money")
    root = write_mesh(tmp_path, {"other": {"source": text}})
    error = only_error(root)
    assert "column type 'money' is not one of" in error.problem
    assert error.line == 6


def test_unknown_input(tmp_path: Path) -> None:
    text = BASE.replace("other.source", "other.sorce")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert error.problem == "input 'src' refers to unknown product 'other.sorce'"
    assert error.line == 3
    assert error.fix and "did you mean 'other.source'" in error.fix


def test_unknown_table_in_sql(tmp_path: Path) -> None:
    text = BASE.replace("FROM src", "FROM source")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert "unknown input or step 'source'" in error.problem
    assert error.line == 6


def test_unknown_column_in_sql(tmp_path: Path) -> None:
    text = BASE.replace("SELECT id, amount FROM src", "SELECT id,\n        amont\n      FROM src")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert "Column 'amont' could not be resolved" in error.problem
    assert "available columns: amount, id" in error.problem
    assert error.line == 7


def test_sql_syntax_error(tmp_path: Path) -> None:
    text = BASE.replace("SELECT id, amount FROM src", "SELECT id, amount FROM src WHERE (id > 1")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert "SQL does not parse" in error.problem
    assert error.line == 6


def test_cycle(tmp_path: Path) -> None:
    a = BASE.replace("name: base", "name: a").replace("other.source", "b")
    b = BASE.replace("name: base", "name: b").replace("other.source", "a")
    root = write_mesh(tmp_path, {"d": {"a": a, "b": b}})
    error = only_error(root)
    assert "inputs form a cycle" in error.problem
    assert "d.a" in error.problem and "d.b" in error.problem
    assert error.line == 3


def test_duplicate_name(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": BASE}})
    (root / "domains/d/products/base_copy.yaml").write_text(BASE)
    caught = refused(root)
    errors = caught.value.errors
    assert any(
        "differs from its file name" in e.problem and e.file and e.file.name == "base_copy.yaml"
        for e in errors
    )


def test_duplicate_product_across_yaml_and_python(tmp_path: Path, monkeypatch) -> None:
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "dupdomain": {"base": BASE}})
    package = root / "domains/dupdomain"
    for init in (
        root / "domains/__init__.py",
        package / "__init__.py",
        package / "products/__init__.py",
    ):
        init.write_text("")
    (package / "products/base_py.py").write_text(
        textwrap.dedent("""\
        from mesh_platform import ProductSpec, SqlStep
        product = ProductSpec(
            domain="dupdomain", name="base", description="again",
            inputs={"src": "other.source"}, steps=[SqlStep(sql="SELECT id FROM src")],
        )
    """)
    )
    monkeypatch.syspath_prepend(str(root))
    import sys

    def ours() -> list[str]:
        return [m for m in sys.modules if m == "domains" or m.startswith("domains.")]

    saved = {m: sys.modules.pop(m) for m in ours()}
    try:
        error = only_error(root)
    finally:
        for module in ours():
            del sys.modules[module]
        sys.modules.update(saved)
    assert "duplicate product name 'base'" in error.problem
    assert error.fix == "give each product of a domain its own name"


def test_contract_declares_a_column_the_sql_does_not_produce(tmp_path: Path) -> None:
    text = BASE + "columns:\n  - {name: id, type: bigint}\n  - {name: total, type: double}\n"
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert "declares column 'total' but the steps do not produce it" in error.problem
    assert error.line == 9


def test_all_errors_are_reported_together(tmp_path: Path) -> None:
    a = BASE.replace("other.source", "other.nope")
    b = BASE.replace("name: base", "name: b").replace("other.source", "other.gone")
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": a, "b": b}})
    caught = refused(root)
    assert len(caught.value.errors) == 2
    assert "other.nope" in str(caught.value) and "other.gone" in str(caught.value)


def test_an_engine_that_is_not_available(tmp_path: Path) -> None:
    text = BASE + "engine: flink\n"
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {"base": text}})
    error = only_error(root)
    assert error.problem == "engine 'flink' is not available in this version of Mesh"
    assert error.line == 7
    assert error.fix and "engine: local" in error.fix and "engine: spark" in error.fix
