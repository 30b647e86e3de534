"""Event jobs: each domain event from the outbox runs its reactions (app.services.reactions) and is
then marked complete; the outbox relay; stage-duration scans."""

from __future__ import annotations

import logging

from arq import Retry

from app.models import DomainEvent
from app.services import automations, events, history, reactions

log = logging.getLogger("workers.events")


def _retry(ctx: dict, exc: Exception) -> Retry:
    """arq retries only Retry: turn a failure into one with exponential backoff (5 s, 10 s, 20 s, …)."""
    delay = min(5 * 2 ** (ctx.get("job_try", 1) - 1), 300)
    log.warning("job %s failed on try %s (%s); retrying in %ss", ctx.get("job_id"), ctx.get("job_try"), exc, delay)
    return Retry(defer=delay)


async def process_event(ctx: dict, event_id: int) -> bool:
    """Run the event's reactions, then record it complete. False when there was nothing to do."""
    try:
        event = await DomainEvent.get_or_none(id=event_id)  # read once, for every reaction
        if event is None or event.completed_at is not None:
            return False
        await reactions.react(event)
        return await events.mark_completed(event.id)
    except Exception as exc:
        raise _retry(ctx, exc) from exc


async def relay_outbox(ctx: dict) -> int:
    return await events.relay()


async def purge_event_log(ctx: dict) -> int:
    return await events.purge_completed()


async def purge_field_history(ctx: dict) -> int:
    return await history.purge_expired()


async def scan_stage_durations(ctx: dict) -> int:
    return await automations.scan_stage_durations()
