"""Quality scores from the catalog's quality history (no Dagster: `mesh status` reads them
without loading it; `quality_history.py` projects the history from Dagster's event log)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from mesh_platform.catalog import Catalog, QualityResult

# The score weighs each check by its recent pass rate: the last WINDOW evaluations.
WINDOW = 30


@dataclass(frozen=True)
class CheckHistory:
    """One check's record: evaluations, pass rate and pass rate per day."""

    check_name: str
    evaluations: int
    pass_rate: float
    last_passed: bool
    last_failing_percent: float | None
    daily: dict[str, float]


def product_quality(catalog: Catalog, product: str) -> tuple[float | None, list[CheckHistory]]:
    """A product's quality score (0-100) and each check's history.

    The score is the mean, over the product's checks, of the pass rate of their last
    `WINDOW` evaluations: one failing check among ten costs at most ten points.
    """
    with catalog.session() as session:
        rows = list(
            session.scalars(
                select(QualityResult)
                .where(QualityResult.product == product)
                .order_by(QualityResult.event_id)
            )
        )
    by_check: dict[str, list[QualityResult]] = defaultdict(list)
    for row in rows:
        by_check[row.check_name].append(row)
    histories = []
    for name, results in sorted(by_check.items()):
        days: dict[str, list[bool]] = defaultdict(list)
        for r in results:
            days[r.evaluated_at.date().isoformat()].append(r.passed)
        recent = results[-WINDOW:]
        histories.append(
            CheckHistory(
                check_name=name,
                evaluations=len(results),
                pass_rate=round(sum(r.passed for r in recent) / len(recent), 4),
                last_passed=results[-1].passed,
                last_failing_percent=results[-1].failing_percent,
                daily={d: round(sum(v) / len(v), 4) for d, v in sorted(days.items())},
            )
        )
    if not histories:
        return None, []
    score = round(100 * sum(h.pass_rate for h in histories) / len(histories), 1)
    return score, histories


__all__ = ["WINDOW", "CheckHistory", "product_quality"]
