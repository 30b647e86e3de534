"""Report timeframes: the strings users type ("last_30_days", "2026-Q3", …) as UTC intervals.

Every timeframe is a half-open interval [start, end) whose bounds are midnights UTC, so it serves
datetime columns (start <= at < end) and date columns (first_day <= day < end_date) alike.

Accepted forms (keywords are case-insensitive, surrounding spaces ignored):

- ``last_7_days``, ``last_30_days``, ``last_90_days``: the N UTC calendar days ending with today,
  today included: [midnight(today) − (N − 1) days, midnight(tomorrow)).
- ``this_month``, ``this_quarter``, ``this_year``: the whole current calendar period, UTC, including
  the part still to come.
- ``YYYY-Qn`` (e.g. ``2026-Q3``): that calendar quarter.
- ``YYYY-MM`` (e.g. ``2026-11``): that calendar month.
- ``YYYY-MM-DD..YYYY-MM-DD``: those days, both ends included (so the interval ends at midnight
  after the second date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from app.domain.errors import ErrorCode, ValidationFailed

ACCEPTED_FORMS = (
    "last_7_days, last_30_days, last_90_days, this_month, this_quarter, this_year, "
    "a quarter like 2026-Q3, a month like 2026-11, or a date range like 2026-01-01..2026-03-31"
)

ROLLING_DAYS = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Timeframe:
    """A half-open UTC interval [start, end); `label` is the canonical spelling of what was asked."""

    start: datetime
    end: datetime
    label: str

    @property
    def first_day(self) -> date:
        """The first calendar day inside the interval."""
        return self.start.date()

    @property
    def end_date(self) -> date:
        """The first calendar day after the interval (exclusive bound for date columns)."""
        return self.end.date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def contains_date(self, day: date) -> bool:
        return self.first_day <= day < self.end_date


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _month_start(year: int, month: int) -> date:
    """First day of a month; months past December roll into the next year."""
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _months(year: int, first_month: int, count: int, label: str) -> Timeframe:
    start = _month_start(year, first_month)
    return Timeframe(_midnight(start), _midnight(_month_start(year, first_month + count)), label)


def _invalid(text: object) -> ValidationFailed:
    return ValidationFailed.single("timeframe", f"unknown timeframe {text!r}: use {ACCEPTED_FORMS}", ErrorCode.INVALID)


def parse_timeframe(text: object, now: datetime | None = None) -> Timeframe:
    """The interval `text` names, relative to `now` (timezone-aware; default: the current time).

    Raises ValidationFailed (field "timeframe") for anything else, naming the accepted forms."""
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(timezone.utc).date()
    if not isinstance(text, str):
        raise _invalid(text)
    cleaned = text.strip()
    keyword = cleaned.lower()

    if keyword in ROLLING_DAYS:
        days = ROLLING_DAYS[keyword]
        return Timeframe(_midnight(today - timedelta(days=days - 1)), _midnight(today + timedelta(days=1)), keyword)
    if keyword == "this_month":
        return _months(today.year, today.month, 1, keyword)
    if keyword == "this_quarter":
        return _months(today.year, (today.month - 1) // 3 * 3 + 1, 3, keyword)
    if keyword == "this_year":
        return _months(today.year, 1, 12, keyword)

    try:
        return _calendar_form(cleaned)
    except (ValueError, OverflowError):  # month 13, 31 April, year 0000, or past 9999-12-31
        raise _invalid(text) from None


def _calendar_form(cleaned: str) -> Timeframe:
    """A quarter, month or inclusive date range; ValueError when it names no real period."""
    if match := _QUARTER.match(cleaned):
        year, quarter = int(match.group(1)), int(match.group(2))
        return _months(year, (quarter - 1) * 3 + 1, 3, f"{year:04d}-Q{quarter}")
    if match := _MONTH.match(cleaned):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError("month out of range")
        return _months(year, month, 1, f"{year:04d}-{month:02d}")
    if match := _RANGE.match(cleaned):
        first, last = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
        if last < first:
            raise ValidationFailed.single(
                "timeframe", f"the range {cleaned!r} ends before it starts", ErrorCode.OUT_OF_RANGE
            )
        return Timeframe(_midnight(first), _midnight(last + timedelta(days=1)), f"{first.isoformat()}..{last.isoformat()}")
    raise ValueError("no calendar form")
