"""Field history: written by every use case that changes an opportunity, account or contact, in the
transaction that makes the change (rules: app.domain.history); purged only past a retention setting."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from tortoise.models import Model

from app.domain.enums import ChangeSource
from app.domain.history import TRACKED, field_changes
from app.models import FieldHistoryEntry
from app.settings import get_settings

log = logging.getLogger(__name__)

# The column of `field_history` that names each kind of record.
RECORD_COLUMNS = {"opportunity": "opportunity_id", "account": "account_id", "contact": "contact_id"}


def tracked_state(record_type: str, row: Model) -> dict[str, Any]:
    """The tracked columns of a row as it is now (read before changing it)."""
    return {column: getattr(row, column) for column in TRACKED[record_type] if hasattr(row, column)}


async def record_changes(record_type: str, record_id: int, before: dict[str, Any], after: dict[str, Any], *,
                         actor_id: int | None, source: ChangeSource = ChangeSource.API,
                         at: datetime | None = None) -> list[FieldHistoryEntry]:
    """Inside the caller's transaction: one history row per tracked field that changed from `before`
    to `after` (only the columns in `after` are compared)."""
    at = at or datetime.now(timezone.utc)
    rows = [FieldHistoryEntry(**{RECORD_COLUMNS[record_type]: record_id}, field=change.field, before=change.before,
                        after=change.after, source=source, changed_by_id=actor_id, changed_at=at)
            for change in field_changes(record_type, before, after)]
    if rows:
        await FieldHistoryEntry.bulk_create(rows)
    return rows


async def purge_expired(now: datetime | None = None, batch: int = 5000) -> int:
    """Delete history older than FIELD_HISTORY_RETENTION_DAYS (unset: kept for good); returns how many."""
    days = get_settings().field_history_retention_days
    if days is None:
        return 0
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    removed = 0
    while True:
        ids = await FieldHistoryEntry.filter(changed_at__lt=cutoff).order_by("id").limit(batch).values_list("id", flat=True)
        if not ids:
            break
        removed += await FieldHistoryEntry.filter(id__in=list(ids)).delete()
    if removed:
        log.info("purged %d field history rows older than %d days", removed, days)
    return removed
