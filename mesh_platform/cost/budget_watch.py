"""Spend against the budget standard, per month, and the alerts of its breaches.

Production runs only (`kind: run`): development runs (preview, test) are the authors' own
loop and never count against a budget. A breach is notified once per period (the alert's
dedupe key is `budget:<domain>:<limit>[:<product>]:<YYYY-MM>`), to the domain's channels
and on-call, or the platform team's when the standard says the platform answers for the
domain; an active waiver suppresses it until the waiver expires, then the breach of
that same period is notified once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from mesh_platform.catalog import Catalog
from mesh_platform.cost.budgets import LIMIT_LABELS, BudgetError, BudgetStandard, LimitName
from mesh_platform.cost.rollup import rollup
from mesh_platform.cost.waivers import BudgetWaiver, active_waivers
from mesh_platform.notify import AlertDraft, Notifier

if TYPE_CHECKING:
    from mesh_platform.spec.model import DomainSpec

PLATFORM_DOMAIN = "platform"
COSTLIEST = 3  # products named in an alert


@dataclass(frozen=True)
class BudgetLine:
    """One limit of one domain (or product) for one month: what was spent against it."""

    month: str
    domain: str
    limit: LimitName
    product: str | None  # the product (per product), the costliest run's (per run)
    measure: str  # dollars | units
    spent: float  # per run: the costliest run
    allowed: float
    runs_over: int = 0  # per run: how many runs went over
    waiver: BudgetWaiver | None = None  # the active waiver covering it

    @property
    def breached(self) -> bool:
        """Whether the spend is over the limit."""
        return self.spent > self.allowed

    @property
    def dedupe_key(self) -> str:
        """The alert's key: one alert per domain, limit (product) and month."""
        product = f":{self.product}" if self.limit == "per_product_month" else ""
        return f"budget:{self.domain}:{self.limit}{product}:{self.month}"

    def amount(self, value: float) -> str:
        """`value` in the line's measure, for people."""
        return f"${value:,.2f}" if self.measure == "dollars" else f"{value:,.4f} units"

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (for `--json`)."""
        return {
            "month": self.month,
            "domain": self.domain,
            "limit": self.limit,
            "product": self.product,
            "measure": self.measure,
            "spent": self.spent,
            "allowed": self.allowed,
            "breached": self.breached,
            "runs_over": self.runs_over,
            "waiver": None if self.waiver is None else self.waiver.as_dict(),
        }


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of `month` (YYYY-MM) and of the next one (naive UTC, as rollup)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise BudgetError(f"month {month!r} is not YYYY-MM") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime.combine(first, time.min), datetime.combine(following, time.min)


def product_spend(catalog: Catalog, month: str) -> dict[str, tuple[float, float]]:
    """Production units and dollars of every product that ran in `month`."""
    start, _ = month_bounds(month)
    totals = rollup(catalog, by="product", period="month", since=start.date(), kind="run")
    return {t.group: (t.units, t.dollars) for t in totals if t.period == month}


def costliest(spend: Mapping[str, tuple[float, float]], domain: str) -> list[tuple[str, float]]:
    """The domain's costliest products of the period, with their dollars."""
    mine = [(p, d) for p, (_, d) in spend.items() if p.partition(".")[0] == domain]
    return sorted(mine, key=lambda pd: (-pd[1], pd[0]))[:COSTLIEST]


def _runs_over(
    catalog: Catalog, domain: str, month: str, measure: str, allowed: float
) -> list[tuple[str, float]]:
    """The domain's production runs of `month` over `allowed`: (product, figure), worst first."""
    from sqlalchemy import select

    from mesh_platform.catalog.models import RunCost

    start, end = month_bounds(month)
    column = RunCost.dollars if measure == "dollars" else RunCost.units
    query = (
        select(RunCost.product, column)
        .where(
            RunCost.domain == domain,
            RunCost.kind == "run",
            RunCost.started_at >= start,
            RunCost.started_at < end,
            column > allowed,
        )
        .order_by(column.desc())
    )
    with catalog.session() as session:
        return [(product, float(value)) for product, value in session.execute(query)]


def budget_status(
    catalog: Catalog,
    standard: BudgetStandard,
    month: str,
    now: datetime | None = None,
    domains: Iterable[str] = (),
) -> list[BudgetLine]:
    """Every limit of every domain that spent in `month` (and of `domains`), with the
    waiver active at `now` that covers it; by domain, then limit, costliest first."""
    now = now or datetime.now(UTC)
    spend = product_spend(catalog, month)
    grants = active_waivers(catalog, now)
    names = sorted({p.partition(".")[0] for p in spend} | set(domains))
    lines: list[BudgetLine] = []

    def line(domain: str, limit: LimitName, product: str | None, **figures: Any) -> None:
        grant = next((g for g in grants if g.covers(domain, limit, product)), None)
        lines.append(BudgetLine(month, domain, limit, product, waiver=grant, **figures))

    for domain in names:
        limits = standard.limits_for(domain)
        mine = {p: s for p, s in spend.items() if p.partition(".")[0] == domain}
        index = {"units": 0, "dollars": 1}
        if (limit := limits.get("per_domain_month")) is not None:
            total = sum(s[index[limit.measure]] for s in mine.values())
            line(domain, "per_domain_month", None, measure=limit.measure, spent=total,
                 allowed=limit.amount)
        if (limit := limits.get("per_product_month")) is not None:
            for product, figures in sorted(mine.items(), key=lambda ps: -ps[1][1]):
                line(domain, "per_product_month", product, measure=limit.measure,
                     spent=figures[index[limit.measure]], allowed=limit.amount)
        if (limit := limits.get("per_run")) is not None and mine:
            over = _runs_over(catalog, domain, month, limit.measure, limit.amount)
            worst = over[0] if over else (None, 0.0)
            line(domain, "per_run", worst[0], measure=limit.measure, spent=worst[1],
                 allowed=limit.amount, runs_over=len(over))
    return lines


def breach_draft(
    line: BudgetLine,
    spend: Mapping[str, tuple[float, float]],
    standard: BudgetStandard,
    domains: Mapping[str, DomainSpec],
    recipients_of: Callable[[DomainSpec], tuple[str, ...]],
) -> AlertDraft:
    """The alert of a breach, for whoever answers for the domain's budget."""
    owner = domains.get(line.domain)
    platform = domains.get(PLATFORM_DOMAIN)
    # A domain the specs no longer describe has nobody else to tell.
    to_platform = (
        standard.platform_answers_for(line.domain)
        or owner is None
        or owner.answers_for.budget == "platform"
    )
    answering = platform if to_platform else owner
    what = LIMIT_LABELS[line.limit]
    subject = line.product if line.limit == "per_product_month" else line.domain
    if line.limit == "per_run":
        over = (
            f"{line.runs_over} run(s) over {line.amount(line.allowed)}, the costliest "
            f"{line.amount(line.spent)} ({line.product})"
        )
    else:
        over = f"{line.amount(line.spent)} of {line.amount(line.allowed)}"
    top = "\n".join(f"  - {p}: ${d:,.2f}" for p, d in costliest(spend, line.domain))
    body = (
        f"What: the {what} ({line.limit}) of {subject} is over its budget in {line.month}: "
        f"{over}.\n"
        f"Costliest products of {line.domain} this month (production runs):\n{top}\n"
        "How to act: make the costliest products cheaper or run them less often; or, if the "
        "spend is expected, ask the platform team for a time-limited waiver "
        f"(`mesh budget grant {line.domain} --limit {line.limit} --until YYYY-MM-DD ...`). "
        "Nothing was stopped: budgets only notify."
    )
    return AlertDraft(
        dedupe_key=line.dedupe_key,
        # notify/messages.py's AlertKind predates budgets; the column holds any kind.
        kind="budget",
        audience="platform" if to_platform else "domain",
        domain=line.domain,
        title=f"[budget] {subject}: {what} over budget in {line.month} ({over})",
        body=body,
        severity=owner.severity if owner is not None else "medium",
        recipients=recipients_of(answering) if answering is not None else (),
        product=line.product if line.limit != "per_domain_month" else None,
    )


def evaluate_budgets(
    catalog: Catalog,
    notifier: Notifier,
    standard: BudgetStandard,
    domains: Mapping[str, DomainSpec],
    recipients_of: Callable[[DomainSpec], tuple[str, ...]],
    now: datetime | None = None,
    month: str | None = None,
) -> list[AlertDraft]:
    """Publish (once per period) every breach of `month` (default: `now`'s) in `catalog`'s
    spend that no active waiver covers; the drafts published, already-notified ones included
    (idempotent)."""
    now = now or datetime.now(UTC)
    month = month or now.astimezone(UTC).strftime("%Y-%m")
    spend = product_spend(catalog, month)
    drafts = [
        breach_draft(line, spend, standard, domains, recipients_of)
        for line in budget_status(catalog, standard, month, now)
        if line.breached and line.waiver is None
    ]
    for draft in drafts:
        notifier.publish(draft)
    return drafts


def render_status(lines: list[BudgetLine]) -> str:
    """`mesh budget status` as a table a person reads."""
    if not lines:
        return "no production spend recorded for this month"
    out = [f"{'month':<8} {'domain':<14} {'limit':<18} {'product':<32} {'spent':>14} "
           f"{'limit':>14}  state"]
    for b in lines:
        state = "ok"
        if b.breached:
            state = "OVER" + (f" (waiver until {b.waiver.until})" if b.waiver else "")
        out.append(
            f"{b.month:<8} {b.domain:<14} {b.limit:<18} {b.product or '-':<32} "
            f"{b.amount(b.spent):>14} {b.amount(b.allowed):>14}  {state}"
        )
    return "\n".join(out)
