"""The event log stays bounded: completed events older than the retention setting are purged with
their webhook delivery records; incomplete events (the relay still owes them) are never purged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from app.models import DomainEvent, Webhook, WebhookDelivery
from app.services import events
from app.settings import Settings, get_settings


async def _event(age: timedelta, completed: bool) -> DomainEvent:
    created = datetime.now(timezone.utc) - age
    event = await DomainEvent.create(kind="opportunity.updated", payload={})
    await DomainEvent.filter(id=event.id).update(created_at=created, completed_at=created if completed else None)
    return event


async def test_old_completed_events_go_and_everything_else_stays(monkeypatch):
    monkeypatch.setattr(get_settings(), "event_log_retention_days", 30)
    old_done = [await _event(timedelta(days=31), completed=True) for _ in range(5)]
    old_owed = await _event(timedelta(days=40), completed=False)
    recent_done = await _event(timedelta(days=29), completed=True)
    hook = await Webhook.create(url="https://hooks.example.com/crm", secret="s", events=["opportunity.updated"])
    await WebhookDelivery.create(webhook=hook, event_id=old_done[0].id, status="delivered")
    kept_delivery = await WebhookDelivery.create(webhook=hook, event_id=recent_done.id, status="delivered")

    assert await events.purge_completed(batch=2) == 5  # several batches
    remaining = set(await DomainEvent.all().values_list("id", flat=True))
    assert remaining == {old_owed.id, recent_done.id}
    assert [d.id for d in await WebhookDelivery.all()] == [kept_delivery.id]
    assert await events.purge_completed() == 0


def test_retention_cannot_undercut_the_change_log_window():
    with pytest.raises(ValidationError):
        Settings(event_log_retention_days=6)
