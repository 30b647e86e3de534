"""What happens after each domain event: one table, event kind → reactions, run by the worker.

A reaction takes the logged event (`DomainEvent`: ids, actor, chain depth) and its typed form
(app.domain.events). Every reaction is safe to run twice: its effect carries a once-only guard in
its own transaction (AutomationRun, WebhookDelivery's unique pair) or is a debounced recomputation.
An event is complete (`completed_at`) only after all of its reactions returned."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.domain import events as e
from app.models import DomainEvent
from app.services import automations, forecasts, health, webhooks

log = logging.getLogger(__name__)

Reaction = Callable[[DomainEvent, e.Event], Awaitable[object]]

_DEAL_CHANGE: tuple[Reaction, ...] = (
    automations.on_opportunity_change, forecasts.on_domain_event, webhooks.fan_out, health.on_domain_event)

_ARCHIVAL_OF_DEALS: tuple[Reaction, ...] = (forecasts.on_domain_event, webhooks.fan_out, health.on_domain_event)

REACTIONS: dict[type[e.Event], tuple[Reaction, ...]] = {
    e.OpportunityCreated: _DEAL_CHANGE,
    e.OpportunityUpdated: _DEAL_CHANGE,
    e.OpportunityProductsChanged: _DEAL_CHANGE,
    e.StageChanged: _DEAL_CHANGE,
    # The close beside its stage change: the stage change already moved forecasts and health.
    e.OpportunityClosedWon: (webhooks.fan_out,),
    e.OpportunityClosedLost: (webhooks.fan_out,),
    e.ActivityAdded: (automations.on_opportunity_change, health.on_domain_event, webhooks.fan_out),
    e.ActivityUpdated: (automations.on_opportunity_change, health.on_domain_event, webhooks.fan_out),
    e.TaskCreated: (webhooks.fan_out,),
    e.TaskCompleted: (webhooks.fan_out,),
    e.NotificationCreated: (),  # live subscribers only
    e.ForecastUpdated: (),  # live subscribers only
    # Change-log events: subscriptions, webhooks (deletions) and offline sync read them; the deal's
    # deletion also moves the forecast and its account's health.
    e.OpportunityDeleted: (forecasts.on_domain_event, webhooks.fan_out, health.on_domain_event),
    e.ActivityDeleted: (webhooks.fan_out,),
    e.AccountDeleted: (webhooks.fan_out,),
    e.ContactDeleted: (webhooks.fan_out,),
    e.ContactErased: (webhooks.fan_out,),
    e.ProductDeleted: (webhooks.fan_out,),
    e.TaskReopened: (webhooks.fan_out,),
    e.TaskUpdated: (webhooks.fan_out,),
    e.TaskDeleted: (webhooks.fan_out,),
    e.NotificationRead: (),
    e.DocumentsChanged: (),
    e.CompetitorsChanged: (),
    e.AccountCreated: (webhooks.fan_out,),
    e.AccountUpdated: (webhooks.fan_out,),
    e.ContactCreated: (webhooks.fan_out,),
    e.ContactUpdated: (webhooks.fan_out,),
    e.InteractionRecorded: (webhooks.fan_out,),
    e.InteractionUpdated: (webhooks.fan_out,),
    e.ProductCreated: (webhooks.fan_out,),
    e.ProductUpdated: (webhooks.fan_out,),
    # Archive and restore: webhooks; a deal's (or an account's deals') leaving or rejoining the open
    # pipeline moves the forecast and the account's health.
    e.OpportunityArchived: _ARCHIVAL_OF_DEALS,
    e.OpportunityRestored: _ARCHIVAL_OF_DEALS,
    e.AccountArchived: _ARCHIVAL_OF_DEALS,
    e.AccountRestored: _ARCHIVAL_OF_DEALS,
    e.ContactArchived: (webhooks.fan_out,),
    e.ContactRestored: (webhooks.fan_out,),
    e.InteractionArchived: (webhooks.fan_out, health.on_domain_event),
    e.InteractionRestored: (webhooks.fan_out, health.on_domain_event),
    e.ActivityArchived: (webhooks.fan_out,),
    e.ActivityRestored: (webhooks.fan_out,),
}


async def react(record: DomainEvent) -> int:
    """Run every reaction to the event, in the table's order; returns how many ran."""
    event = e.parse_event(record.kind, record.payload)
    if event is None:
        log.warning("event %s has an unknown kind %r: nothing reacts to it", record.id, record.kind)
        return 0
    reactions = REACTIONS[type(event)]
    for reaction in reactions:
        await reaction(record, event)
    return len(reactions)
