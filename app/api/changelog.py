"""The change log over GraphQL: `eventCursor` (start from now) and `changes` (sync for offline clients)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Optional

import strawberry

from app.api.context import CtxInfo
from app.api.errors import require_scope, top_level_error
from app.api.interactions import CustomerInteraction
from app.api.realtime import parse_cursor
from app.api.types import Account, Contact, Opportunity, OpportunityActivity, Product, node_id
from app.api.work import Notification, Task
from app.domain import changelog as rules
from app.domain.changelog import encode_cursor
from app.queries.changelog import now_position
from app.services import sync

MAX_CHANGES = 500

# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
ChangeRecordType = rules.RecordType
strawberry.enum(ChangeRecordType, name="ChangeRecordType",
                description="The record types the change log covers.")


@strawberry.enum(description="CREATED/UPDATED carry the record as it is now; DELETED: gone for good; "
                             "REMOVED: still exists but left your scope (e.g. reassigned): drop it from your cache; "
                             "ARCHIVED: put away (out of lists) until restored, which comes as UPDATED.")
class ChangeAction(Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    REMOVED = "removed"
    ARCHIVED = "archived"


@strawberry.type(description="One record's latest change in the page. Exactly the field of its type is set "
                             "for CREATED and UPDATED; none for DELETED, REMOVED and ARCHIVED.")
class Change:
    cursor: str
    type: ChangeRecordType
    id: strawberry.ID
    action: ChangeAction
    at: datetime
    opportunity: Optional[Opportunity] = None
    account: Optional[Account] = None
    contact: Optional[Contact] = None
    activity: Optional[OpportunityActivity] = None
    interaction: Optional[CustomerInteraction] = None
    task: Optional[Task] = None
    notification: Optional[Notification] = None
    product: Optional[Product] = None


@strawberry.type
class ChangesPage:
    changes: list[Change]
    cursor: str = strawberry.field(description="Pass as `after` for the next page (or the next sync).")
    has_more: bool


# The GraphQL type of each kind of record the change log names (the type of its field on Change).
RECORD_NODE_TYPES: dict[ChangeRecordType, str] = {
    ChangeRecordType.OPPORTUNITY: "Opportunity", ChangeRecordType.ACCOUNT: "Account",
    ChangeRecordType.CONTACT: "Contact", ChangeRecordType.ACTIVITY: "OpportunityActivity",
    ChangeRecordType.INTERACTION: "CustomerInteraction", ChangeRecordType.TASK: "Task",
    ChangeRecordType.NOTIFICATION: "Notification", ChangeRecordType.PRODUCT: "Product",
}


def _change(change: sync.Change) -> Change:
    entry = Change(cursor=encode_cursor(change.position), type=change.record_type,
                   id=node_id(RECORD_NODE_TYPES[change.record_type], change.record_id),
                   action=ChangeAction(change.action.value), at=change.position.at)
    if change.record is not None:
        setattr(entry, change.record_type.value, change.record)
    return entry


@strawberry.type
class ChangelogQuery:
    @strawberry.field(description="The log's current position: subscribe or sync with `after` set to it to get "
                                  "everything that commits from now on (e.g. right after a full download).")
    async def event_cursor(self, info: CtxInfo) -> str:
        require_scope(info)
        return encode_cursor(await now_position())

    @strawberry.field(description="What was created, updated, deleted or left your scope after `after` (from the "
                                  "start of the 7-day retention without it), in commit order, one entry per record. "
                                  "An expired cursor is a CURSOR_EXPIRED error: download afresh, then go on from "
                                  "eventCursor.")
    async def changes(self, info: CtxInfo, after: Optional[str] = None,
                      types: Optional[list[ChangeRecordType]] = None,
                      first: int = 100) -> ChangesPage:
        scope = require_scope(info)
        if not 1 <= first <= MAX_CHANGES:
            raise top_level_error(f"first: must be between 1 and {MAX_CHANGES}", "BAD_USER_INPUT")
        wanted = set(types) if types else set(rules.RecordType)
        page = await sync.changes_since(scope, parse_cursor(after), wanted, first)
        return ChangesPage(changes=[_change(c) for c in page.changes], cursor=encode_cursor(page.cursor),
                           has_more=page.has_more)
