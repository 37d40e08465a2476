"""Reading a landing export for an ingestion product, checked against its declared columns.

A landing problem is the source's or the platform's, never the domain's logic: each is one
`LandingError` naming the file, what is wrong and the fix. The first ingestion of an empty
export is one (nothing was ever published: an empty first version is most likely a broken
export), unless the spec says `allow_empty: true`; a later empty export is written, and the
run says so (a `row_count` rule, or the volume guard, makes it blocking). A landing folder
(`source: {landing: <name>, folder: true}`) is read file by file: `run/landing_folder.py`.
"""

from __future__ import annotations

import pyarrow as pa

from mesh_platform.column_types import arrow_family, arrow_type, from_arrow
from mesh_platform.lake.lakehouse import Lakehouse, LandingError
from mesh_platform.spec.model import ProductSpec


def read_landing(
    lakehouse: Lakehouse, spec: ProductSpec
) -> tuple[pa.RecordBatchReader, list[str]]:
    """The landing export of `spec`, read batch by batch (never whole), and any warnings (an
    empty export)."""
    assert spec.source is not None
    dataset = lakehouse.landing(spec.source.landing)
    where = f"landing file {spec.source.landing}.parquet (for {spec.qualified_name})"
    check_columns(where, dataset.schema, spec)
    reader = dataset.scanner(columns=[c.name for c in spec.columns]).to_reader()
    if dataset.count_rows() > 0:  # from the files' footers
        return reader, []
    if not spec.source.allow_empty and not lakehouse.exists(spec.key):
        raise empty_first(where, spec)
    return reader, [f"{where} is empty: 0 rows written"]


def empty_first(where: str, spec: ProductSpec) -> LandingError:
    """The first ingestion of an empty export, refused (see the module's docstring)."""
    assert spec.source is not None
    folder = ", folder: true" if spec.source.folder else ""
    return LandingError(
        f"{where} is empty and {spec.qualified_name} was never published: nothing is "
        "written. Fix: have the source re-export it with its rows, or write `source: "
        f"{{landing: {spec.source.landing}{folder}, allow_empty: true}}` if an empty first "
        "version is meant"
    )


def check_columns(where: str, schema: pa.Schema, spec: ProductSpec) -> None:
    """Refuse an export whose columns or column types are not the declared ones."""
    found = {field.name: field.type for field in schema}
    declared = {c.name: c.type for c in spec.columns}
    missing = [name for name in declared if name not in found]
    added = [name for name in found if name not in declared]
    if missing or added:
        raise LandingError(
            f"{where} does not match the declared columns: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"added {', '.join(added)}" if added else "",
                )
                if part
            )
            + ". Fix: if the source changed on purpose, update the product's `columns:` "
            "(and its consumers); otherwise have the source re-export the agreed columns"
        )
    retyped = []
    for name, type_name in declared.items():
        target = arrow_type(type_name) if type_name else None
        if target is not None and arrow_family(found[name]) != arrow_family(target):
            retyped.append(f"{name} is {from_arrow(found[name])}, declared {type_name}")
    if retyped:
        raise LandingError(
            f"{where} changed column types: {'; '.join(retyped)}. Fix: have the source "
            "re-export the agreed types, or update the declared `columns:` if the change is meant"
        )
