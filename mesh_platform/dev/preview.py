"""Step-by-step preview of a product over the current lakehouse data, for development."""

from __future__ import annotations

from mesh_platform.engine import StepPreview, get_engine
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh
from mesh_platform.security.keys import Keyring


def preview_product(
    mesh: Mesh, name: str, lakehouse: Lakehouse, keys: Keyring, rows: int = 5
) -> list[StepPreview]:
    """Each step's schema, row count and first rows, reading the inputs' current tables."""
    source = mesh.product(name)
    spec = source.spec
    plan = mesh.plans[spec.key]
    if spec.source is not None:
        table = lakehouse.landing(spec.source.landing).head(rows)
        import polars as pl

        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        schema = {n: str(t) for n, t in frame.schema.items()}
        return [StepPreview("landing", "source", schema, table.num_rows, frame)]
    inputs = {port: lakehouse.dataset(ref) for port, ref in spec.input_refs().items()}
    return get_engine(spec.engine, keys=keys).preview(plan, inputs, rows)
