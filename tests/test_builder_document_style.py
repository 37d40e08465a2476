"""A product built from scratch in the builder is written as a hand-written spec is: once it
has `inputs: {...}` (a flow mapping), its new `steps`, `columns` and `quality` are still block
sequences with SQL as `|` blocks, not one flow line each (issue 16 item 5: "in the same
format as hand-written specs")."""

from __future__ import annotations

from pathlib import Path

from mesh_platform.builder.document import SpecDocument

EXPECTED = """\
name: region_value
description: Per region.
inputs: {revenue: sales.customer_revenue}
steps:
  - sql: |
      SELECT nation, revenue
      FROM revenue
  - use: pseudonymize
    with: {columns: [nation]}
columns:
  - {name: nation, type: string}
quality:
  - {rule: not_null, column: nation}
"""


def test_new_fields_after_a_flow_input_are_block_style(tmp_path: Path) -> None:
    document = SpecDocument(
        "name: region_value\ndescription: Per region.\ninputs: {revenue: sales.customer_revenue}\n",
        tmp_path / "region_value.yaml",
    )
    values = dict(document.values)
    values["steps"] = [
        {"sql": "SELECT nation, revenue\nFROM revenue\n"},
        {"use": "pseudonymize", "with": {"columns": ["nation"]}},
    ]
    values["columns"] = [{"name": "nation", "type": "string"}]
    values["quality"] = [{"rule": "not_null", "column": "nation"}]
    assert document.render(values) == EXPECTED
