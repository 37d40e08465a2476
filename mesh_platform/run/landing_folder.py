"""A run of a product ingesting a landing folder: only the files it has not ingested yet.

`source: {landing: orders, folder: true}` reads `<landing_root>/orders/*.parquet` (e.g. one
file a day, `orders/2024-01-01.parquet`). Which files the table holds is read from its Delta
log at its current version (`lake/ingested.py`, also after `mesh rollback`); a run appends the
rows of the other files in one commit that records them, exactly once (the product's `txn`).

- No new file: nothing is committed, and the run says "no new files".
- A file ingested before that has changed since (another size or Parquet footer) is a
  `LandingError` naming it: its old rows are in the table, and re-ingesting it would keep
  both. A file ingested before and since removed only warns (its rows stay).
- The first run, a full refresh (`mesh materialize --full-refresh`), and a table whose files
  are unknown (written before its source became a folder) replace the table with every file.

Each new file is checked against the declared columns on its own (naming it) and read as an
Arrow dataset; only the new files' rows are held in memory, never the table's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from mesh_platform.column_types import arrow_type
from mesh_platform.lake.ingested import FolderCommit, LandedFile, commit_folder, ingested_files
from mesh_platform.lake.lakehouse import Lakehouse, LandingError, WriteResult
from mesh_platform.lake.scanning import lean
from mesh_platform.run.landing import check_columns, empty_first

if TYPE_CHECKING:
    from mesh_platform.spec.model import ProductSpec


@dataclass(frozen=True)
class FolderRun:
    """What this run of a folder ingestion reads (`data`: the new files' rows) and commits."""

    spec: ProductSpec
    commit: FolderCommit
    data: pa.RecordBatchReader  # the new files' rows, read as they are consumed
    rows: int = 0  # how many (from the files' footers)
    warnings: tuple[str, ...] = ()

    @property
    def incremental(self) -> bool:
        """Whether the run adds to the table rather than replacing it."""
        return not self.commit.replace

    def write(self, lakehouse: Lakehouse, table: pa.Table) -> WriteResult:
        """Commit the conformed rows (nothing when no file is new: see the module's
        docstring)."""
        lakehouse.check_writer(self.spec.key)
        uri = lakehouse.uri(self.spec.key)
        base = self.commit.base
        if base is not None and not self.commit.added and not self.commit.replace:
            return WriteResult(uri, base.version(), 0, 0, incremental=True)
        from mesh_platform.lake.orphans import remove_orphans

        remove_orphans(uri)
        return commit_folder(uri, lakehouse.storage_options or None, self.commit, table)


def read_folder(
    lakehouse: Lakehouse, spec: ProductSpec, run_id: str = "", full_refresh: bool = False
) -> FolderRun:
    """This run's new files and their rows (see the module's docstring)."""
    assert spec.source is not None
    name = spec.source.landing
    now = {p.name: (p, LandedFile.of(p)) for p in lakehouse.landing_folder(name)}
    base = None if full_refresh else lakehouse.base(spec.key)
    held = ingested_files(base) if base is not None else None
    warnings: list[str] = []
    if base is not None and held is None:
        warnings.append(
            f"{spec.qualified_name}: its table does not record which files of landing folder "
            f"{name}/ it holds (written before the source was a folder): every file re-ingested"
        )
    if held is None:
        held = {}
    _check_unchanged(spec, held, {n: f for n, (_, f) in now.items()})
    warnings.extend(_removed(spec, held, now))
    new = [now[n] for n in sorted(now) if n not in held]
    replace = base is None or not held
    if not now:
        warnings.append(f"landing folder {name}/ is empty: 0 rows written")
    elif not new:
        warnings.append(f"landing folder {name}/ has no new files: nothing ingested")
    elif not replace:
        warnings.append(f"ingested {len(new)} new file(s) of {name}/: {_names(new)}")
    kept = [] if replace else list(held.values())
    commit = FolderCommit(
        spec.key, base, kept + [f for _, f in new], [f for _, f in new], replace, run_id
    )
    data, rows = _read_files(spec, [p for p, _ in new])
    if replace and rows == 0 and not spec.source.allow_empty and base is None:
        raise empty_first(f"landing folder {name}/ (for {spec.qualified_name})", spec)
    return FolderRun(spec, commit, data, rows, tuple(warnings))


def _names(files: list[tuple[Path, LandedFile]]) -> str:
    shown = ", ".join(f.name for _, f in files[:5])
    return shown + (f" and {len(files) - 5} more" if len(files) > 5 else "")


def _check_unchanged(
    spec: ProductSpec, held: dict[str, LandedFile], now: dict[str, LandedFile]
) -> None:
    """Refuse a run when a file the table holds has changed since it was ingested."""
    changed = [now[n] for n in sorted(held) if n in now and now[n] != held[n]]
    if not changed:
        return
    assert spec.source is not None
    first = changed[0]
    before = held[first.name]
    raise LandingError(
        f"landing file {spec.source.landing}/{first.name} (for {spec.qualified_name}) changed "
        f"after it was ingested ({before.size} bytes then, {first.size} now"
        + (", other contents" if before.size == first.size else "")
        + ")"
        + (f", and {len(changed) - 1} more" if len(changed) > 1 else "")
        + ": its earlier rows are in the table, so nothing is ingested. Fix: restore the file "
        "as it was and add the corrections as a new file, or rebuild the table from the files "
        f"as they are now with `mesh materialize {spec.qualified_name} --full-refresh`"
    )


def _removed(
    spec: ProductSpec, held: dict[str, LandedFile], now: dict[str, tuple[Path, LandedFile]]
) -> list[str]:
    gone = sorted(n for n in held if n not in now)
    if not gone:
        return []
    assert spec.source is not None
    return [
        f"{len(gone)} ingested file(s) of landing folder {spec.source.landing}/ are gone "
        f"({', '.join(gone[:5])}): their rows stay in {spec.qualified_name}; "
        "`mesh materialize --full-refresh` rebuilds it from the files there are"
    ]


def _read_files(spec: ProductSpec, paths: list[Path]) -> tuple[pa.RecordBatchReader, int]:
    """The rows of `paths` batch by batch (each file checked against the declared columns
    first, naming it; its batches cast to the first file's types) and how many there are."""
    import pyarrow.dataset as pads

    assert spec.source is not None
    names = [c.name for c in spec.columns]
    datasets = []
    for path in paths:
        where = f"landing file {spec.source.landing}/{path.name} (for {spec.qualified_name})"
        try:
            dataset = lean(pads.dataset(str(path), format="parquet"))
            rows = dataset.count_rows()  # reads the footer: a truncated file fails here
        except (pa.ArrowInvalid, OSError) as exc:
            raise LandingError(
                f"{where} is not readable parquet ({exc}). Fix: re-export it from the source "
                "as parquet; a partial copy is truncated"
            ) from None
        check_columns(where, dataset.schema, spec)
        datasets.append((dataset, rows))
    if not datasets:
        return pa.RecordBatchReader.from_batches(_empty(spec).schema, []), 0
    schema = pa.schema([datasets[0][0].schema.field(n) for n in names])

    def batches() -> Iterator[pa.RecordBatch]:
        for dataset, _ in datasets:
            for batch in dataset.scanner(columns=names).to_batches():
                yield batch.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches()), sum(r for _, r in datasets)


def _empty(spec: ProductSpec) -> pa.Table:
    """No rows, in the declared columns (what a run without a new file conforms)."""
    return pa.schema(
        [(c.name, (arrow_type(c.type) if c.type else None) or pa.null()) for c in spec.columns]
    ).empty_table()
