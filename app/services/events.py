"""Domain events through a transactional outbox; the database decides when an event is done.

A use case records its typed events (app.domain.events) inside its own transaction (`Outbox.record`);
after the commit `Outbox.publish` hands each to Redis as one arq job and to live subscribers.

Redis is only a trigger. An event is done when the worker has committed every reaction to it and
set `completed_at` (workers/events.py). Each hand-over to Redis counts (`dispatch_count`) and holds a
lease (`lease_until`, longer than a job may run plus arq's own re-pick delay); `relay` (worker start-up
and a cron) hands over again every event that is not complete and whose lease ran out — never reached
Redis, lost with Redis' data (FLUSHALL, a restart without persistence), or failed for good. Each
hand-over has its own job id (`event:<id>`, then `event:<id>:<n>`): arq refuses an id while the old
job or its result exists. Running an event twice is harmless: every reaction is guarded by a
once-only row in its own transaction (AutomationRun, WebhookDelivery's unique pair, …).

Remaining risk: an event whose reactions keep failing is handed over MAX_DISPATCHES times, then left
incomplete (visible: `completed_at IS NULL AND dispatch_count >= MAX_DISPATCHES`) for an operator."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tortoise.models import Model

from app.domain import event_documents
from app.domain.events import Event
from app.models import DomainEvent, Opportunity, PipelineStage, WebhookDelivery
from app.services import queue
from app.settings import get_settings

log = logging.getLogger(__name__)

PROCESS_EVENT_JOB = "process_event"
MAX_DISPATCHES = 20


def lease_seconds() -> float:
    """Longer than a job may run plus the 10 s after which arq itself re-runs a dead worker's job."""
    return 2 * get_settings().job_timeout_seconds + 30


def event_job_id(event_id: int, dispatch: int = 0) -> str:
    return f"event:{event_id}" if dispatch == 0 else f"event:{event_id}:{dispatch}"


class Outbox:
    def __init__(self, caused_by: DomainEvent | None = None) -> None:
        self.events: list[DomainEvent] = []
        self.caused_by = caused_by

    async def record(self, event: Event, *, opportunity: Opportunity | None = None,
                     account_id: int | None = None, owner_id: int | None = None,
                     actor_id: int | None = None, resource: Model | None = None,
                     before: dict[str, Any] | None = None) -> DomainEvent:
        """Call inside the transaction that makes the change; the typed event is its payload.

        `resource`: the row the event is about, as it is after the change (deleted: as it was); its
        document (app.domain.event_documents) is stored with the event. `before`: for an update, the
        row's `columns` read before the change, so the document names what changed (`previous`)."""
        payload = event.payload()
        if resource is not None:
            payload.update(await resource_snapshot(resource, before))
        record = await DomainEvent.create(
            kind=event.KIND,
            opportunity_id=opportunity.id if opportunity else None,
            account_id=account_id if account_id is not None else (opportunity.account_id if opportunity else None),
            owner_id=owner_id if owner_id is not None else (opportunity.assigned_to_id if opportunity else None),
            actor_id=actor_id,
            payload=payload,
            caused_by_id=self.caused_by.id if self.caused_by else None,
            chain_depth=self.caused_by.chain_depth + 1 if self.caused_by else 0,
        )
        self.events.append(record)
        return record

    async def publish(self) -> None:
        """Call after the commit. Never raises for Redis trouble: the relay catches up."""
        for event in self.events:
            await dispatch(event.id, 0)
        self.events.clear()


def columns(row: Model) -> dict[str, Any]:
    """The columns of a row its event document reads, as plain values: enums as enums and money at its
    scale, whether the row was read from the database or assigned from input. Read it before changing a
    row to pass as `Outbox.record(before=…)`."""
    type_name = type(row).__name__
    if type_name not in event_documents.RESOURCES:
        return {}
    fields_map = row._meta.fields_map
    values: dict[str, Any] = {}
    for column in event_documents.columns_of(type_name):
        if column not in fields_map and not column.endswith("_id"):
            continue  # a derived value (the opportunity's stage key) or a column this model lacks
        if not hasattr(row, column):
            continue
        value = getattr(row, column)
        field = fields_map.get(column)
        enum_type = getattr(field, "enum_type", None)
        if enum_type is not None and value is not None and not isinstance(value, enum_type):
            value = enum_type(value)
        places = getattr(field, "decimal_places", None)
        if isinstance(value, (int, float, str, Decimal)) and places is not None and not isinstance(value, bool):
            value = Decimal(value).quantize(Decimal(1).scaleb(-places))
        values[column] = value
    if type_name == "Opportunity":
        values["stage_key"] = getattr(row, "stage_id", None)  # resolved to the key in resource_snapshot
    return values


async def resource_snapshot(row: Model, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored part of an event's document: the row rendered, and what changed since `before`."""
    type_name = type(row).__name__
    if type_name not in event_documents.RESOURCES:
        return {}
    after = columns(row)
    if type_name == "Opportunity":
        states = [after] if before is None else [after, before]
        stage_ids = {state.get("stage_key") for state in states if isinstance(state.get("stage_key"), int)}
        keys = dict(await PipelineStage.filter(id__in=stage_ids).values_list("id", "key")) if stage_ids else {}
        for state in states:
            if isinstance(state.get("stage_key"), int):
                state["stage_key"] = keys.get(state["stage_key"])
    return event_documents.snapshot(type_name, int(row.pk), after, before)


async def dispatch(event_id: int, dispatch_count: int) -> bool:
    """Hand the event to the worker (a job) and, the first time, to live subscribers (pub/sub)."""
    from app.services import realtime

    if not await queue.enqueue(PROCESS_EVENT_JOB, event_id, job_id=event_job_id(event_id, dispatch_count)):
        return False
    now = datetime.now(timezone.utc)
    await DomainEvent.filter(id=event_id, dispatch_count=dispatch_count).update(
        dispatched_at=now, lease_until=now + timedelta(seconds=lease_seconds()), dispatch_count=dispatch_count + 1)
    if dispatch_count == 0:
        await realtime.publish([event_id])
    return True


def due_filter(now: datetime) -> Q:
    """Not completed, and never handed over or its lease ran out."""
    return Q(completed_at__isnull=True, dispatch_count__lt=MAX_DISPATCHES) & (
        Q(dispatched_at__isnull=True) | Q(lease_until__lt=now))


async def relay(limit: int = 1000, now: datetime | None = None) -> int:
    """Hand over again every event that is due (see the module docstring); returns how many."""
    now = now or datetime.now(timezone.utc)
    due = await DomainEvent.filter(due_filter(now)).order_by("id").limit(limit).values_list("id", "dispatch_count")
    delivered = 0
    for event_id, dispatch_count in due:
        if not await dispatch(event_id, dispatch_count):
            break  # Redis is still down: try again on the next run
        delivered += 1
    if delivered:
        log.info("outbox relay handed %d events to the worker", delivered)
    return delivered


async def mark_completed(event_id: int) -> bool:
    """Every reaction to the event has committed. False when it was already complete."""
    return bool(await DomainEvent.filter(id=event_id, completed_at__isnull=True).update(
        completed_at=datetime.now(timezone.utc), lease_until=None))


async def incomplete_count() -> int:
    return await DomainEvent.filter(completed_at__isnull=True).count()


async def purge_completed(older_than: timedelta | None = None, batch: int = 5000) -> int:
    """Delete completed events created before the retention window, in batches (short transactions on
    a large log); their webhook delivery records go with them. Returns how many were deleted."""
    keep = older_than or timedelta(days=get_settings().event_log_retention_days)
    cutoff = datetime.now(timezone.utc) - keep
    removed = 0
    while True:
        ids = await DomainEvent.filter(created_at__lt=cutoff, completed_at__isnull=False) \
            .order_by("id").limit(batch).values_list("id", flat=True)
        if not ids:
            break
        async with in_transaction():
            await WebhookDelivery.filter(event_id__in=list(ids)).delete()  # explicit: SQLite may not cascade
            removed += await DomainEvent.filter(id__in=list(ids)).delete()
    if removed:
        log.info("purged %d completed events older than %d days", removed, keep.days)
    return removed
