"""Cost tracking: what every run consumed, priced in compute units and dollars, and roll-ups.

Sits between `dagster/` (which records each materialization's cost) and `run/` (which measures
it); writes to and reads from the catalog's `run_costs` table. See docs/cost.md.
"""

from mesh_platform.cost.rates import CostRates
from mesh_platform.cost.record import CostEntry, cost_metadata, product_team, record_cost

__all__ = ["CostEntry", "CostRates", "cost_metadata", "product_team", "record_cost"]
