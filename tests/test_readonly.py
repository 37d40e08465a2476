"""Read-only for others: a domain cannot write, overwrite or delete another domain's products
through the platform (the lakehouse refuses the write, the load refuses the spec or step)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mesh_platform.dagster.location import location_definitions
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import ForeignWrite, Lakehouse
from mesh_platform.lake.partitions import PartitionSlice
from tests.mini_mesh import refused, write_mesh

PEOPLE = """\
name: people
description: People.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: city, type: string}
"""
ROWS = pl.DataFrame({"id": [1, 2], "city": ["Paris", "Rome"]})


def _lake(root: Path, domain: str | None) -> Lakehouse:
    (root / "landing").mkdir(exist_ok=True)
    return Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"), domain=domain)


def test_a_lakehouse_bound_to_a_domain_refuses_another_domains_table(tmp_path: Path) -> None:
    platform = _lake(tmp_path, None)  # the platform's own tools write any table
    platform.write(("hr", "people"), ROWS.to_arrow())
    before = platform.version(("hr", "people"))
    ads = _lake(tmp_path, "ads")
    with pytest.raises(ForeignWrite, match=r"a run of the ads domain may not write hr\.people"):
        ads.write(("hr", "people"), ROWS.head(0).to_arrow())  # an overwrite that would delete
    month = PartitionSlice("day", dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    with pytest.raises(ForeignWrite):
        ads.write(("hr", "new_table"), ROWS.to_arrow(), month)
    assert platform.version(("hr", "people")) == before  # nothing committed
    assert pl.read_delta(platform.uri(("hr", "people"))).equals(ROWS)
    assert not platform.exists(("hr", "new_table"))
    ads.write(("ads", "mine"), ROWS.to_arrow())  # its own products: fine
    assert ads.exists(("ads", "mine"))


def _catalog(root: Path) -> CatalogResource:
    return CatalogResource(url=f"sqlite:///{root / 'catalog.db'}")


def test_a_run_with_another_domains_lakehouse_writes_nothing(tmp_path: Path) -> None:
    write_mesh(tmp_path, {"hr": {"people": PEOPLE}})
    assets = [
        a
        for a in location_definitions(tmp_path, "hr").assets or []
        if isinstance(a, dg.AssetsDefinition)
    ]
    ROWS.write_parquet(_lake(tmp_path, None).landing_root + "/people.parquet")
    result = dg.materialize(
        assets,
        resources={"lakehouse": _lake(tmp_path, "ads"), "catalog": _catalog(tmp_path)},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "a run of the ads domain may not write hr.people" in str(
        failure.message
    )
    assert not _lake(tmp_path, None).exists(("hr", "people"))
    ok = dg.materialize(
        assets, resources={"lakehouse": _lake(tmp_path, "hr"), "catalog": _catalog(tmp_path)}
    )
    assert ok.success and _lake(tmp_path, None).exists(("hr", "people"))


def test_a_spec_naming_another_domain_is_refused_at_load(tmp_path: Path) -> None:
    write_mesh(tmp_path, {"hr": {"people": PEOPLE}, "ads": {"people": "domain: hr\n" + PEOPLE}})
    (error,) = refused(tmp_path).value.errors
    assert "product says domain 'hr' but lives in domain 'ads'" in str(error)
    assert error.file == tmp_path / "domains/ads/products/people.yaml" and error.line == 1


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (
            "from deltalake import write_deltalake\n\n"
            "def step(frame):\n"
            "    write_deltalake('lake/hr/people', frame.collect().to_arrow(), mode='overwrite')\n"
            "    return frame\n",
            "import deltalake at line 1",
        ),
        (
            "def step(frame):\n"
            "    frame.collect().write_delta('lake/hr/people', mode='overwrite')\n"
            "    return frame\n",
            "write_delta(...) at line 2",
        ),
        (
            "import polars as pl\n\ndef step(frame):\n    return pl.scan_delta('lake/hr/people')\n",
            "scan_delta(...) at line 4",
        ),
    ],
)
def test_a_python_step_reaching_storage_itself_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, what: str
) -> None:
    (tmp_path / "ads_writer_steps.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ads_writer_steps", raising=False)
    spec = (
        "name: sneaky\ndescription: x\ninputs: {people: hr.people}\nsteps:\n"
        "  - sql: SELECT id, city FROM people\n  - python: ads_writer_steps:step\n"
    )
    write_mesh(tmp_path, {"hr": {"people": PEOPLE}, "ads": {"sneaky": spec}})
    (error,) = refused(tmp_path).value.errors
    assert f"python step 'ads_writer_steps:step' reaches storage itself ({what}" in str(error)
    assert error.file == tmp_path / "domains/ads/products/sneaky.yaml" and error.line == 6
    assert "the platform reads and writes tables" in (error.fix or "")
