"""GraphQL subscriptions (graphql-transport-ws): live and resumable event streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import AsyncGenerator, Optional, cast

import strawberry
from strawberry.scalars import JSON

from app import models as m
from app.api.context import CtxInfo
from app.api.errors import parse_id, require_scope, top_level_error
from app.api.user_input import bad_user_input
from app.api.loaders import Loaders
from app.api.work import Notification, Task
from app.api.types import Opportunity, User, node_id, node_pk
from app.domain.errors import ValidationFailed
from app.domain.event_documents import api_name, changed_fields
from app.domain.global_ids import globalize_ids
from app.domain.changelog import CursorError, Position, decode_cursor, encode_cursor
from app.models import DomainEvent
from app.queries.changelog import position_of
from app.queries.visibility import Scope, opportunity_visible, task_visible
from app.services import realtime

ID = strawberry.ID
OPPORTUNITY_EVENT_KINDS = ["opportunity.created", "opportunity.updated", "opportunity.products_changed",
                           "opportunity.stage_changed", "opportunity.closed_won", "opportunity.closed_lost",
                           "opportunity.deleted", "opportunity.archived", "opportunity.restored"]


@strawberry.enum
class OpportunityEventKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    STAGE_CHANGED = "stage_changed"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"
    DELETED = "deleted"
    ARCHIVED = strawberry.enum_value("archived", description="Put away (archiveOpportunity, or with its account): "
                                                             "out of lists until RESTORED.")
    RESTORED = "restored"


# A close is two events in the log (app.domain.events.OpportunityClosedWon): STAGE_CHANGED, then CLOSED_WON
# or CLOSED_LOST, each with its own cursor.
_KINDS = {"opportunity.created": OpportunityEventKind.CREATED, "opportunity.deleted": OpportunityEventKind.DELETED,
          "opportunity.stage_changed": OpportunityEventKind.STAGE_CHANGED,
          "opportunity.closed_won": OpportunityEventKind.CLOSED_WON,
          "opportunity.closed_lost": OpportunityEventKind.CLOSED_LOST,
          "opportunity.archived": OpportunityEventKind.ARCHIVED, "opportunity.restored": OpportunityEventKind.RESTORED}


def opportunity_event_kind(event: DomainEvent) -> OpportunityEventKind:
    return _KINDS.get(event.kind, OpportunityEventKind.UPDATED)


@strawberry.type(description="A field an update changed: its name in the Opportunity type and its values before "
                             "and after, as the API returns them (ids as global ids, money as strings, enums by name).")
class FieldChange:
    field: str
    previous: Optional[JSON]
    current: Optional[JSON]


@strawberry.type
class OpportunityEvent:
    cursor: str
    kind: OpportunityEventKind
    at: datetime
    opportunity_id: ID
    from_stage: Optional[str]
    to_stage: Optional[str]
    changes: list[FieldChange]
    actor_id: strawberry.Private[Optional[int]]

    @strawberry.field(description="The opportunity as it is now (null if it was deleted since).")
    async def opportunity(self, info: CtxInfo) -> Optional[Opportunity]:
        return await info.context.loaders.opportunity.load(node_pk(self.opportunity_id, "Opportunity"))

    @strawberry.field(description="Who caused the event; null for the system.")
    async def by(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.actor_id) if self.actor_id else None


@strawberry.input
class OpportunityEventFilter:
    account_id: Optional[ID] = None
    assigned_to: Optional[list[ID]] = None
    stages: Optional[list[str]] = strawberry.field(default=None, description="Stage keys (target stage of a move).")
    kinds: Optional[list[OpportunityEventKind]] = None


@strawberry.enum
class TaskEventKind(Enum):
    CREATED = "created"
    COMPLETED = "completed"


@strawberry.type
class TaskEvent:
    cursor: str
    kind: TaskEventKind
    at: datetime
    task: Optional[Task]


@strawberry.type
class ForecastUpdate:
    cursor: str
    period: str
    at: datetime
    forecast: JSON


def parse_cursor(after: Optional[str]) -> Position | None:
    """A client's cursor; a malformed one is BAD_USER_INPUT, one past the retention window CURSOR_EXPIRED."""
    if after is None:
        return None
    try:
        return decode_cursor(after, datetime.now(timezone.utc))
    except CursorError as exc:
        raise top_level_error(f"after: {exc}", "CURSOR_EXPIRED" if exc.expired else "BAD_USER_INPUT") from None


def cursor_of(event: DomainEvent) -> str:
    return encode_cursor(position_of(event))


@dataclass(frozen=True)
class _EventFilter:
    """An OpportunityEventFilter with its ids decoded once, when the subscription starts."""

    account_id: int | None = None
    assigned_to: frozenset[int] = frozenset()
    stages: frozenset[str] = frozenset()
    kinds: frozenset[OpportunityEventKind] = frozenset()

    @classmethod
    def parse(cls, f: OpportunityEventFilter | None) -> "_EventFilter":
        if f is None:
            return cls()
        try:
            return cls(account_id=parse_id(f.account_id, "filter.account_id") if f.account_id else None,
                       assigned_to=frozenset(parse_id(a, "filter.assigned_to") for a in f.assigned_to or ()),
                       stages=frozenset(f.stages or ()), kinds=frozenset(f.kinds or ()))
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None


def _matches(scope: Scope, event: DomainEvent, kind: OpportunityEventKind, f: _EventFilter) -> bool:
    if not opportunity_visible(scope, event.owner_id):
        return False  # the same visibility rule as queries, checked per event
    if f.kinds and kind not in f.kinds:
        return False
    if f.account_id and event.account_id != f.account_id:
        return False
    if f.assigned_to and event.owner_id not in f.assigned_to:
        return False
    return not (f.stages and event.payload.get("to", event.payload.get("stage")) not in f.stages)


def _changes(event: DomainEvent) -> list[FieldChange]:
    """From the event's snapshot (app.domain.event_documents); an event logged before snapshots existed
    names its fields by their API names too."""
    if event.kind not in ("opportunity.updated", "opportunity.products_changed", "opportunity.archived",
                          "opportunity.restored"):
        return []
    snapshot = changed_fields(event.payload)
    if snapshot:
        return [FieldChange(field=name, previous=before, current=after) for name, before, after in snapshot]
    changes = event.payload.get("changes") or {}
    return [FieldChange(field=api_name("Opportunity", name), previous=c.get("from"), current=c.get("to"))
            for name, c in globalize_ids(changes).items()]


def _fresh_loaders(info: CtxInfo, scope: Scope) -> None:
    # A WebSocket context lives as long as the connection: give each event fresh, uncached loaders.
    info.context.loaders = Loaders(scope)


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(description="Changes to opportunities you may see. `after` resumes from a cursor.")
    async def opportunity_events(self, info: CtxInfo, filter: Optional[OpportunityEventFilter] = None,
                                 after: Optional[str] = None) -> AsyncGenerator[OpportunityEvent, None]:
        scope = require_scope(info)
        wanted = _EventFilter.parse(filter)
        async for event in realtime.stream(parse_cursor(after), OPPORTUNITY_EVENT_KINDS):
            kind = opportunity_event_kind(event)
            if not _matches(scope, event, kind, wanted):
                continue
            _fresh_loaders(info, scope)
            yield OpportunityEvent(
                cursor=cursor_of(event), kind=kind, at=event.created_at,
                opportunity_id=node_id("Opportunity", event.opportunity_id or event.payload["opportunity_id"]),
                from_stage=event.payload.get("from"),
                to_stage=event.payload.get("stage") if event.kind.startswith("opportunity.closed_") else event.payload.get("to"),
                changes=_changes(event),
                actor_id=event.actor_id,
            )

    @strawberry.subscription(description="Your own new notifications.")
    async def notifications(self, info: CtxInfo, after: Optional[str] = None) -> AsyncGenerator[Notification, None]:
        scope = require_scope(info)
        async for event in realtime.stream(parse_cursor(after), ["notification.created"]):
            if event.owner_id != scope.user_id:
                continue
            notification = await m.Notification.get_or_none(id=event.payload.get("notification_id"))
            if notification is not None:
                yield cast(Notification, notification)

    @strawberry.subscription(description="Tasks created or completed for you (and your reps, as a manager).")
    async def task_events(self, info: CtxInfo, after: Optional[str] = None) -> AsyncGenerator[TaskEvent, None]:
        scope = require_scope(info)
        async for event in realtime.stream(parse_cursor(after), ["task.created", "task.completed"]):
            if not task_visible(scope, event.owner_id):
                continue
            _fresh_loaders(info, scope)
            yield TaskEvent(cursor=cursor_of(event), kind=TaskEventKind(event.kind.split(".")[1]), at=event.created_at,
                            task=cast(Optional[Task], await m.Task.get_or_none(id=event.payload.get("task_id"))))

    @strawberry.subscription(description="Admins: a new forecast snapshot for the period (e.g. 2026-Q4).")
    async def forecast_updated(self, info: CtxInfo, period: str, after: Optional[str] = None) -> AsyncGenerator[ForecastUpdate, None]:
        if not require_scope(info).is_admin:
            raise top_level_error("forecasts are company-wide: admins only", "FORBIDDEN")
        async for event in realtime.stream(parse_cursor(after), ["forecast.updated"]):
            if event.payload.get("period") == period:
                yield ForecastUpdate(cursor=cursor_of(event), period=period, at=event.created_at,
                                     forecast=globalize_ids(event.payload.get("forecast", {})))
