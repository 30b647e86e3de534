"""Contract housekeeping run by the worker."""

from __future__ import annotations

from datetime import datetime, timezone

from app.domain.enums import ContractStatus
from app.models import Contract


async def expire_ended_contracts(today=None) -> int:
    """Active contracts whose end date has passed become expired; returns how many changed."""
    today = today or datetime.now(timezone.utc).date()
    return await Contract.filter(status=ContractStatus.ACTIVE, end_date__lt=today).update(status=ContractStatus.EXPIRED)
