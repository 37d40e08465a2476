"""What a product would cost per run: the last production run's cost, else a measured run."""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.cost.rates import CostRates
from mesh_platform.engine.base import Usage


@dataclass(frozen=True)
class CostEstimate:
    """Cost per run and where the figure comes from."""

    cpu_seconds: float
    units: float
    dollars: float
    source: str

    def describe(self) -> str:
        """One line for the end of `mesh preview`."""
        return (
            f"estimated cost per run: {self.units:.6f} units (~${self.dollars:.6f}, "
            f"{self.cpu_seconds:.2f} CPU s), from {self.source}"
        )


def estimate(
    catalog_url: str, product: str, measured: Usage, rates: CostRates
) -> tuple[CostEstimate, str | None]:
    """The last recorded production run of `product` if any, else `measured` (the preview's
    own run over the current data); and a warning when the catalog could not be read.
    """
    warning = None
    try:
        last = _last_run(catalog_url, product)
    except Exception as error:  # an estimate must not fail the preview
        last, warning = None, f"last production cost not read from the catalog: {error}"
    if last is not None:
        cpu, units, dollars, started = last
        return CostEstimate(cpu, units, dollars, f"the last production run ({started:%Y-%m-%d})"), (
            warning
        )
    units = rates.units(measured.cpu_seconds)
    source = (
        f"this preview's measured run over the current data ({measured.rows_in} rows, "
        f"{measured.bytes_in} bytes read; no production run recorded yet)"
    )
    return CostEstimate(measured.cpu_seconds, units, rates.dollars(units), source), warning


def _last_run(catalog_url: str, product: str) -> tuple[float, float, float, object] | None:
    from sqlalchemy import select

    from mesh_platform.catalog import Catalog
    from mesh_platform.catalog.models import RunCost

    query = (
        select(RunCost.cpu_seconds, RunCost.units, RunCost.dollars, RunCost.started_at)
        .where(RunCost.product == product, RunCost.kind == "run")
        .order_by(RunCost.started_at.desc())
        .limit(1)
    )
    with Catalog.open(catalog_url).session() as session:
        row = session.execute(query).first()
    return None if row is None else (row[0], row[1], row[2], row[3])
