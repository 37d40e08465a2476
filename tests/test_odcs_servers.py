"""Issue 17, item 7: each ODCS document carries a `servers:` entry for the product's Delta
table (the local path, or the production profile's object store URL), valid against the ODCS
JSON schema and model that `datacontract-cli` itself uses (the `open-data-contract-standard`
package, already a dependency), and pointing where the table really is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from deltalake import DeltaTable
from open_data_contract_standard.model import OpenDataContractStandard

from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.odcs import odcs_document, odcs_yaml
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        for name, value in mesh.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.delenv("MESH_PROFILE", raising=False)
        mesh.land("orders", {"id": [1, 2], "amount": [1.5, 4.0]})
        yield mesh


def _valid(document: dict[str, object]) -> None:
    schema = json.loads(OpenDataContractStandard.json_schema())
    validator = jsonschema.Draft201909Validator(schema)
    assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)] == []
    OpenDataContractStandard.model_validate(document)


def test_the_local_server_is_the_delta_table_the_run_wrote(mesh: CliMesh) -> None:
    assert mesh.run("materialize", "shop.orders").exit_code == 0
    document = odcs_document(Mesh.load(mesh.root), "shop.orders")
    _valid(document)
    assert document["servers"] == [
        {
            "server": "local",
            "environment": "local",
            "format": "delta",
            "type": "local",
            "path": str(mesh.lake("shop.orders")),
        }
    ]
    (server,) = (
        OpenDataContractStandard.from_string(odcs_yaml(Mesh.load(mesh.root), "shop.orders")).servers
        or []
    )
    table = DeltaTable(str(server.path)).to_pyarrow_table().sort_by("id")
    assert table.to_pydict() == {"id": [1, 2], "amount": [1.5, 4.0]}
    # `mesh contract` prints the same document.
    printed = mesh.run("contract", "shop.orders")
    assert printed.exit_code == 0, printed.output
    assert f"path: {mesh.lake('shop.orders')}" in printed.output


def test_the_production_object_store_is_the_server_there(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESH_LAKE_ROOT", "s3://acme-lake/mesh/")
    monkeypatch.setenv("MESH_PROFILE", "prod")
    document = odcs_document(Mesh.load(mesh.root), "shop.orders")
    _valid(document)
    assert document["servers"] == [
        {
            "server": "prod",
            "environment": "prod",
            "format": "delta",
            "type": "s3",
            "location": "s3://acme-lake/mesh/shop/orders",
        }
    ]
