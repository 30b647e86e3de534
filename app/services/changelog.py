"""Writing the change log: a write and the events that describe it commit together, and a change to an
opportunity's child (activity, product line, competitor link, document) moves the opportunity itself.

The kinds and what they touch are listed in app/domain/changelog.py (TOUCHES); the sync reads them back
through app/queries/changelog.py."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import AsyncIterator

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app.models import Opportunity
from app.services.events import Outbox


@contextlib.asynccontextmanager
async def recorded_change() -> AsyncIterator[Outbox]:
    """One transaction for a write and its events; the events go out after the commit."""
    outbox = Outbox()
    async with in_transaction():
        yield outbox
    await outbox.publish()


async def touch_opportunity(opportunity: Opportunity | int) -> None:
    """A child changed: the opportunity's updatedAt and version move too (call inside the child's
    transaction). An increment, not a compare-and-set: the child's change never conflicts with an
    edit of the opportunity's own fields, but a client holding the old version learns it is stale."""
    opportunity_id = opportunity if isinstance(opportunity, int) else opportunity.id
    now = datetime.now(timezone.utc)
    await Opportunity.filter(id=opportunity_id).update(version=F("version") + 1, updated_at=now)
    if isinstance(opportunity, Opportunity):
        opportunity.version += 1
        opportunity.updated_at = now


def reassignment(previous_owner_id: int | None, owner_id: int | None) -> dict:
    """The payload part that lets the previous owner's sync learn the record left their scope."""
    if previous_owner_id == owner_id:
        return {}
    return {"changes": {"assigned_to_id": {"from": previous_owner_id, "to": owner_id}}}

