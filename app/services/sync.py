"""Sync for offline clients: what changed since a cursor, per record, in commit order, with tombstones.

Reads the event log (app/queries/changelog.py) and maps each event kind to the records it touched
(app/domain/changelog.py TOUCHES). A record appears only if the caller may see it now (CREATED /
UPDATED, with its current state) or could see it when it was deleted or left their scope (DELETED /
REMOVED, id only): anything else is indistinguishable from nothing having happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from tortoise.expressions import Subquery

from app.domain.changelog import TOUCHES, ChangeAction, Position, RecordType, kinds_for, previous_owner
from app.models import (
    Account,
    Contact,
    CustomerInteraction,
    DomainEvent,
    Notification,
    Opportunity,
    OpportunityActivity,
    Product,
    Task,
)
from app.queries.changelog import position_of, read_after
from app.queries.interactions import interaction_filter
from app.queries.visibility import Scope, account_filter, contact_filter, opportunity_filter
from app.services.work import task_filter


@dataclass
class Change:
    record_type: RecordType
    record_id: int
    action: ChangeAction
    position: Position
    record: object | None = None  # the record as it is now, for CREATED and UPDATED


@dataclass
class ChangesPage:
    changes: list[Change]
    cursor: Position
    has_more: bool


def _visible_records(scope: Scope):
    """Per record type: the records this caller may see (the same rules as every query)."""
    return {
        RecordType.OPPORTUNITY: Opportunity.filter(opportunity_filter(scope)),
        RecordType.ACCOUNT: Account.filter(account_filter(scope)),
        RecordType.CONTACT: Contact.filter(contact_filter(scope)),
        RecordType.ACTIVITY: OpportunityActivity.filter(
            opportunity_id__in=Subquery(Opportunity.filter(opportunity_filter(scope)).values("id"))),
        RecordType.INTERACTION: CustomerInteraction.filter(interaction_filter(scope)),
        RecordType.TASK: Task.filter(task_filter(scope)),
        RecordType.NOTIFICATION: Notification.filter(user_id=scope.user_id),
        RecordType.PRODUCT: Product.all(),
    }


_MODELS = {RecordType.OPPORTUNITY: Opportunity, RecordType.ACCOUNT: Account, RecordType.CONTACT: Contact,
           RecordType.ACTIVITY: OpportunityActivity, RecordType.INTERACTION: CustomerInteraction,
           RecordType.TASK: Task, RecordType.NOTIFICATION: Notification, RecordType.PRODUCT: Product}


def _concerned(scope: Scope, record_type: RecordType, event: DomainEvent) -> bool:
    """Whether the caller could see the record when this event happened (so may hear it is gone)."""
    if record_type == RecordType.PRODUCT:
        return True
    if record_type == RecordType.NOTIFICATION:
        return event.owner_id == scope.user_id
    owners = {event.owner_id, previous_owner(event.payload), *(event.payload.get("team_user_ids") or [])}
    return any(scope.covers_user(owner) for owner in owners if owner is not None)


async def changes_since(scope: Scope, after: Position | None, types: set[RecordType], first: int) -> ChangesPage:
    """What was created, updated, deleted or left the caller's scope after the cursor, in commit order,
    one entry per record (at its latest change in the page), over at most `first` events."""
    events, end, _held = await read_after(after, kinds_for(types), first)
    latest: dict[tuple[RecordType, int], Change] = {}
    concerned: set[tuple[RecordType, int]] = set()
    for event in events:
        for touch in TOUCHES[event.kind]:
            if touch.record_type not in types:
                continue
            for record_id in touch.ids(event.payload, event.opportunity_id, event.account_id):
                key = (touch.record_type, record_id)
                created = key in latest and latest[key].action == ChangeAction.CREATED
                action = ChangeAction.CREATED if created and touch.action == ChangeAction.UPDATED else touch.action
                latest.pop(key, None)  # re-inserted last: dicts keep commit order
                latest[key] = Change(touch.record_type, record_id, action, position_of(event))
                if _concerned(scope, touch.record_type, event):
                    concerned.add(key)
    visible = _visible_records(scope)
    changes: list[Change] = []
    for record_type in RecordType:
        wanted = [rid for (rtype, rid), change in latest.items() if rtype == record_type]
        if not wanted:
            continue
        records = {r.id: r for r in await visible[record_type].filter(id__in=wanted)}
        gone = [rid for rid in wanted if rid not in records and latest[(record_type, rid)].action != ChangeAction.DELETED]
        # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
        existing = set(cast("list[int]", await _MODELS[record_type].filter(id__in=gone).values_list("id", flat=True))) \
            if gone else set()
        for record_id in wanted:
            change = latest[(record_type, record_id)]
            if record_id in records and getattr(records[record_id], "archived_at", None) is not None:
                change.action = ChangeAction.ARCHIVED  # a tombstone while it is archived
            elif record_id in records:
                change.record = records[record_id]
                if change.action in (ChangeAction.DELETED, ChangeAction.ARCHIVED):
                    change.action = ChangeAction.UPDATED
            elif (record_type, record_id) not in concerned:
                continue  # never the caller's: indistinguishable from nothing having happened
            else:
                change.action = ChangeAction.REMOVED if record_id in existing else ChangeAction.DELETED
            changes.append(change)
    changes.sort(key=lambda c: c.position)
    return ChangesPage(changes, end, has_more=len(events) == first)
