"""Domain events through a transactional outbox.

A use case records its events inside its own transaction (`Outbox.record`), then, after the commit,
`Outbox.publish` enqueues one arq job per event with a deterministic job id. If Redis is down the use
case still succeeds: the event stays undispatched in the database and `relay_undispatched` (worker
start-up and a short cron) delivers it later. Handlers are idempotent, so a double delivery is harmless."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.models import DomainEvent, Opportunity
from app.services import queue

log = logging.getLogger(__name__)

PROCESS_EVENT_JOB = "process_event"


def event_job_id(event_id: int) -> str:
    return f"event:{event_id}"


class Outbox:
    def __init__(self, caused_by: DomainEvent | None = None) -> None:
        self.events: list[DomainEvent] = []
        self.caused_by = caused_by

    async def record(self, kind: str, *, opportunity: Opportunity | None = None, account_id: int | None = None,
                     owner_id: int | None = None, actor_id: int | None = None, payload: dict | None = None) -> DomainEvent:
        """Call inside the transaction that makes the change."""
        event = await DomainEvent.create(
            kind=kind,
            opportunity_id=opportunity.id if opportunity else None,
            account_id=account_id if account_id is not None else (opportunity.account_id if opportunity else None),
            owner_id=owner_id if owner_id is not None else (opportunity.assigned_to_id if opportunity else None),
            actor_id=actor_id,
            payload=payload or {},
            caused_by_id=self.caused_by.id if self.caused_by else None,
            chain_depth=self.caused_by.chain_depth + 1 if self.caused_by else 0,
        )
        self.events.append(event)
        return event

    async def publish(self) -> None:
        """Call after the commit. Never raises for Redis trouble: the relay catches up."""
        for event in self.events:
            await dispatch(event.id)
        self.events.clear()


async def dispatch(event_id: int) -> bool:
    """Hand the event to the worker (a job) and to live subscribers (pub/sub)."""
    from app.services import realtime

    if await queue.enqueue(PROCESS_EVENT_JOB, event_id, job_id=event_job_id(event_id)):
        await DomainEvent.filter(id=event_id, dispatched_at__isnull=True).update(dispatched_at=datetime.now(timezone.utc))
        await realtime.publish([event_id])
        return True
    return False


async def relay_undispatched(limit: int = 1000) -> int:
    """Enqueue what was committed but never reached Redis; returns how many were delivered."""
    pending = await DomainEvent.filter(dispatched_at__isnull=True).order_by("id").limit(limit).values_list("id", flat=True)
    delivered = 0
    for event_id in pending:
        if not await dispatch(event_id):
            break  # Redis is still down: try again on the next run
        delivered += 1
    if delivered:
        log.info("outbox relay delivered %d events", delivered)
    return delivered
