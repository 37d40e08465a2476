"""The schedule form: when a product runs, as the spec says it (`schedule:` a cron of five
fields, `automation:`), and the next times a cron runs (croniter, which the spec's own cron
check uses; Dagster runs schedules in UTC unless told otherwise, and the spec does not)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from croniter import croniter

from mesh_platform.builder.errors import DraftRefused
from mesh_platform.spec.model import is_valid_cron

KINDS = ("eager", "daily", "weekly", "monthly", "manual")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's 0..6
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def schedule_from_form(
    kind: str, *, time: str = "06:00", weekday: str | None = None, day: int | None = None
) -> str | None:
    """The cron of a form's choice: `daily` at `time` (HH:MM, UTC), `weekly` on `weekday`
    (mon..sun or 0..6), `monthly` on `day` (1..28: every month has it); None for `eager`
    (when inputs update) and `manual`."""
    if kind not in KINDS:
        raise DraftRefused(f"schedule {kind!r}: choose one of {', '.join(KINDS)}")
    if kind in ("eager", "manual"):
        return None
    match = _TIME.match(time.strip())
    if match is None:
        raise DraftRefused(f"time {time!r}: write HH:MM on a 24-hour clock, e.g. 06:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if kind == "daily":
        return f"{minute} {hour} * * *"
    if kind == "weekly":
        return f"{minute} {hour} * * {_weekday(weekday)}"
    if day is None or not 1 <= int(day) <= 28:
        raise DraftRefused(
            f"day {day!r}: a monthly run takes a day of 1..28 (every month has those)"
        )
    return f"{minute} {hour} {int(day)} * *"


def _weekday(weekday: str | None) -> int:
    text = (weekday or "").strip().lower()[:3]
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise DraftRefused(f"weekday {weekday!r}: choose one of {', '.join(WEEKDAYS)}")


def next_runs(cron: str, n: int = 5, *, after: datetime | None = None) -> list[datetime]:
    """The next `n` times (UTC) `cron` runs after `after` (now by default)."""
    if not is_valid_cron(cron):
        raise DraftRefused(f"schedule {cron!r} is not a cron of 5 fields, e.g. '0 6 * * *'")
    start = after or datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    runs = croniter(cron, start)
    return [runs.get_next(datetime) for _ in range(n)]
