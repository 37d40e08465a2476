"""`mesh preview` of a step the engine fails on is reported as the run reports it (issue 20,
item 6): the product, the failure class, the step, the cause, the spec line and the fix, exit
code 1, no traceback. The failure is real: DuckDB cannot decode a masked value as base64."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.loader import mesh as mesh_module
from tests.cli_mesh import CliMesh, cli_mesh

CUSTOMERS = """\
name: customers
description: Customers, as the CRM exports them.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: c_name, type: string, tags: [pii]}
"""
# shop has no clearance: it reads c_name masked (`Q***`), which is not base64.
DECODED = """\
name: decoded
description: Names decoded from base64.
inputs: {c: platform.customers}
steps:
  - name: ids
    sql: SELECT id, c_name FROM c
  - name: decode
    sql: SELECT id, CAST(unbase64(c_name) AS STRING) AS name FROM ids
"""


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    products = {"platform": {"customers": CUSTOMERS}, "shop": {"decoded": DECODED}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        mesh.land("customers", {"id": [1, 2], "c_name": ["Q3VzdG9tZXIjMQ==", "Q3VzdG9tZXIjMg=="]})
        built = mesh.run("materialize", "platform.customers")
        assert built.exit_code == 0, built.output
        yield mesh


def test_an_engine_error_in_a_preview_is_reported_like_the_runs(mesh: CliMesh) -> None:
    preview = mesh.run("preview", "shop.decoded")
    assert preview.exit_code == 1
    assert isinstance(preview.exception, SystemExit)  # handled: not a traceback
    assert "Traceback" not in preview.output
    spec = mesh.root / "domains/shop/products/decoded.yaml"
    line = (
        DECODED.splitlines().index(
            "    sql: SELECT id, CAST(unbase64(c_name) AS STRING) AS name FROM ids"
        )
        + 1
    )
    assert "shop.decoded preview failed (business_logic): StepFailed: " in preview.output
    assert "ConversionException" in preview.output and "Q***" in preview.output
    assert "  step:  decode\n" in preview.output
    assert f"  spec:  {spec}:{line}\n" in preview.output
    assert "  owner: the shop domain\n" in preview.output
    assert "  fix:   the SQL 'decode' of shop.decoded failed." in preview.output
    # The clear names never show (the input is masked for shop).
    assert "Customer#1" not in preview.output and "Q3VzdG9tZXIjMQ" not in preview.output

    run = mesh.run("materialize", "shop.decoded")
    assert run.exit_code != 0
    assert "shop.decoded failed (business_logic): StepFailed: " in run.output
    assert "  step:  decode\n" in run.output  # the same step and class as the preview's

    # Fixed, the preview shows each step computed by the engine (masked for shop).
    spec.write_text(DECODED.replace("CAST(unbase64(c_name) AS STRING)", "upper(c_name)"))
    mesh_module._load_cached.cache_clear()  # the mesh is cached by its root
    preview = mesh.run("preview", "shop.decoded")
    assert preview.exit_code == 0, preview.output
    assert "== step decode (sql): 2 rows" in preview.output
    assert "Q***" in preview.output
