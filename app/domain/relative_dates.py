"""Relative dates in automation parameters: "+3 days", "+2 business days", "+4 hours", "+1 week"."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_PATTERN = re.compile(r"^\+\s*(\d{1,3})\s+(business\s+days?|days?|hours?|weeks?)$", re.IGNORECASE)

ACCEPTED_FORMS = '"+N days", "+N business days", "+N hours" or "+N weeks" (N from 0 to 999)'


def relative_date_error(text: object) -> str | None:
    if not isinstance(text, str) or not _PATTERN.match(text.strip()):
        return f"must look like {ACCEPTED_FORMS}"
    return None


def resolve(text: str, now: datetime, timezone: str = "UTC", at: time | None = None) -> datetime:
    """The moment `text` after `now`, counted in the owner's time zone, returned in UTC.

    Business days skip Saturdays and Sundays. With `at`, day-based results land at that local time."""
    match = _PATTERN.match(text.strip())
    if match is None:
        raise ValueError(relative_date_error(text))
    amount, unit = int(match.group(1)), match.group(2).lower()
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if unit.startswith("hour"):
        return (local + timedelta(hours=amount)).astimezone(ZoneInfo("UTC"))
    if unit.startswith("week"):
        local = local + timedelta(weeks=amount)
    elif unit.startswith("business"):
        remaining = amount
        while remaining > 0:
            local += timedelta(days=1)
            if local.weekday() < 5:
                remaining -= 1
        while local.weekday() >= 5:  # "+0 business days" on a weekend means Monday
            local += timedelta(days=1)
    else:
        local = local + timedelta(days=amount)
    if at is not None:
        local = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return local.astimezone(ZoneInfo("UTC"))
