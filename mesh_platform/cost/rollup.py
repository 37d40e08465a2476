"""Roll-ups of recorded costs: totals per product, domain or team, per day or month.

Team comes from each domain's `team:` in domain.yaml as the specs say now (a domain that no
longer loads falls back to the team recorded with the run, then to `-`), so moving a domain to
another team moves its history too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from mesh_platform.catalog import Catalog

GroupBy = Literal["product", "domain", "team"]
Period = Literal["day", "month", "all"]
UNKNOWN_TEAM = "-"


@dataclass(frozen=True)
class CostTotal:
    """The cost of one group (a product, domain or team) and kind over one period."""

    period: str
    group: str
    kind: str
    runs: int
    cpu_seconds: float
    units: float
    dollars: float

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (for `--json`)."""
        return asdict(self)


def domain_teams() -> dict[str, str]:
    """Domain -> team from every domain.yaml that loads (a broken domain is left out)."""
    from mesh_platform.loader.mesh import MeshSpecs

    return {name: source.spec.team for name, source in MeshSpecs.load().domains.items()}


def _period(started: datetime, period: Period) -> str:
    if period == "day":
        return started.date().isoformat()
    if period == "month":
        return started.strftime("%Y-%m")
    return "all"


def rollup(
    catalog: Catalog,
    by: GroupBy = "product",
    period: Period = "all",
    since: date | None = None,
    kind: str | None = None,
    teams: Mapping[str, str] | None = None,
) -> list[CostTotal]:
    """Totals per period, group and kind; newest period first, costliest first within it."""
    from sqlalchemy import select

    from mesh_platform.catalog.models import RunCost

    columns = (
        RunCost.product, RunCost.domain, RunCost.team, RunCost.kind, RunCost.started_at,
        RunCost.cpu_seconds, RunCost.units, RunCost.dollars,
    )
    query = select(*columns)
    if since is not None:
        query = query.where(RunCost.started_at >= datetime.combine(since, time.min))
    if kind is not None:
        query = query.where(RunCost.kind == kind)
    teams = teams or {}
    sums: dict[tuple[str, str, str], list[float]] = {}
    with catalog.session() as session:
        for product, domain, team, row_kind, started, cpu, units, dollars in session.execute(
            query
        ):
            group = {
                "product": product,
                "domain": domain,
                "team": teams.get(domain) or team or UNKNOWN_TEAM,
            }[by]
            total = sums.setdefault((_period(started, period), group, row_kind), [0, 0, 0, 0])
            total[0] += 1
            total[1] += cpu
            total[2] += units
            total[3] += dollars
    rows = [
        CostTotal(p, g, k, int(t[0]), t[1], t[2], t[3]) for (p, g, k), t in sums.items()
    ]
    rows.sort(key=lambda r: (r.units, r.group), reverse=True)
    rows.sort(key=lambda r: r.period, reverse=True)  # stable: costliest first within a period
    return rows


def render(rows: list[CostTotal], by: GroupBy) -> str:
    """The roll-up as a table a person reads."""
    if not rows:
        return "no recorded costs for this selection"
    header = (
        f"{'period':<10} {by:<36} {'kind':<11} {'runs':>6} {'cpu s':>10} {'units':>10} "
        f"{'dollars':>10}"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r.period:<10} {r.group:<36} {r.kind:<11} {r.runs:>6} {r.cpu_seconds:>10.2f} "
            f"{r.units:>10.5f} {r.dollars:>10.5f}"
        )
    return "\n".join(lines)
