"""Recording what a run cost: the materialization's metadata and a `run_costs` row.

Recording never fails the run: the catalog being down, read-only or locked is returned as a
warning (the materialization's metadata still holds the figures). A row already recorded for
the same (run_id, product, kind), a retried step, is left as it is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mesh_platform.cost.rates import CostRates
from mesh_platform.engine.base import Usage

LOG = logging.getLogger("mesh.cost")
BYTES_PER_MB = 1024 * 1024
# After an outage, skip the catalog for this long: `mesh test` records one row per case and a
# down server would otherwise cost its connect timeout for each of them.
OUTAGE_BACKOFF_SECONDS = 60.0
_down_until: dict[str, float] = {}


@dataclass(frozen=True)
class CostEntry:
    """One run of one product: who it is attributed to, what it consumed, what it cost."""

    product: str  # domain.product
    domain: str
    run_id: str
    kind: str  # run | development
    usage: Usage
    rates: CostRates
    team: str | None = None
    partition: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def units(self) -> float:
        """Compute units of the run's CPU time."""
        return self.rates.units(self.usage.cpu_seconds)

    @property
    def dollars(self) -> float:
        """Approximate dollars of those units."""
        return self.rates.dollars(self.units)


def product_team(owners: tuple[str, ...]) -> str | None:
    """The team among a product's owners (`team:<name>`, the domain's team by default)."""
    return next((o.removeprefix("team:") for o in owners if o.startswith("team:")), None)


def cost_metadata(entry: CostEntry) -> dict[str, Any]:
    """The figures shown on the materialization in the Dagster UI."""
    usage = entry.usage
    return {
        "mesh/cost_units": entry.units,
        "mesh/cost_dollars": entry.dollars,
        "mesh/cpu_seconds": usage.cpu_seconds,
        "mesh/wall_seconds": usage.wall_seconds,
        # The process's lifetime peak resident memory (ru_maxrss), not this run's alone.
        "mesh/peak_memory_mb": usage.process_peak_memory_mb,
        "mesh/rows_read": usage.rows_in,
        "mesh/bytes_read": usage.bytes_in,
        "mesh/rows_written": usage.rows_out,
        "mesh/bytes_written": usage.bytes_out,
    }


def record_cost(catalog_url: str, entry: CostEntry) -> str | None:
    """Add the entry to `run_costs`; a warning to log when the catalog could not take it.

    Returns None when recorded or already recorded for the same run, product and kind.
    """
    if _down_until.get(catalog_url, 0.0) > time.monotonic():
        return f"cost of {entry.product} not recorded: the catalog was unavailable moments ago"
    try:
        _insert(catalog_url, entry)
    except Exception as error:  # no catalog failure may fail the run itself
        from mesh_platform.catalog import CatalogUnavailable

        if isinstance(error, CatalogUnavailable):
            _down_until[catalog_url] = time.monotonic() + OUTAGE_BACKOFF_SECONDS
        return (
            f"cost of {entry.product} (run {entry.run_id}) not recorded in the catalog: "
            f"{error}. The materialization's metadata keeps the figures."
        )
    return None


def _insert(catalog_url: str, entry: CostEntry) -> None:
    from sqlalchemy.exc import IntegrityError

    from mesh_platform.catalog import Catalog
    from mesh_platform.catalog.models import RunCost

    usage = entry.usage
    try:
        with Catalog.open(catalog_url).session() as session:
            session.add(
                RunCost(
                    run_id=entry.run_id,
                    product=entry.product,
                    domain=entry.domain,
                    team=entry.team,
                    kind=entry.kind,
                    partition=entry.partition,
                    started_at=entry.started_at,
                    wall_seconds=usage.wall_seconds,
                    cpu_seconds=usage.cpu_seconds,
                    process_peak_memory_mb=usage.process_peak_memory_mb,
                    rows_read=usage.rows_in,
                    bytes_read=usage.bytes_in,
                    rows_written=usage.rows_out,
                    bytes_written=usage.bytes_out,
                    units=entry.units,
                    dollars=entry.dollars,
                )
            )
    except IntegrityError:
        # The unique key (run_id, product, kind): a retry of a run already costed.
        LOG.info("cost of %s in run %s already recorded", entry.product, entry.run_id)
