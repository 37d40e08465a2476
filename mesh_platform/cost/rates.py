"""The rates that turn CPU time into compute units and dollars."""

from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CostRates:
    """Compute units per core-hour, and the (assumed) dollar price of one unit."""

    units_per_core_hour: float = 1.0
    dollars_per_unit: float = 0.55

    @staticmethod
    def from_environment() -> CostRates:
        """`MESH_COST_UNITS_PER_CORE_HOUR` and `MESH_COST_DOLLARS_PER_UNIT` (see config)."""
        from mesh_platform.config import environment

        units, dollars = environment.cost_rates()
        return CostRates(units, dollars)

    def units(self, cpu_seconds: float) -> float:
        """Compute units of `cpu_seconds` of CPU (all cores): core-hours times the rate."""
        return cpu_seconds / SECONDS_PER_HOUR * self.units_per_core_hour

    def dollars(self, units: float) -> float:
        """The approximate dollar price of `units`."""
        return units * self.dollars_per_unit
