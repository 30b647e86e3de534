"""GraphQL for customer interactions: recordInteraction / updateInteraction, the interactions
connection and interactionInsights."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional, cast

import strawberry
from strawberry import UNSET

from app.api.context import CtxInfo
from app.api.enums import Outcome, SortDirection
from app.api.errors import input_data, parse_id, require_scope, run_mutation
from app.api.inputs import ARCHIVED_FILTER
from app.api.user_input import bad_user_input
from app.api.relay import Connection, page_connection
from app.api.types import ARCHIVED_AT, Account, Contact, Node, Opportunity, User, UserError, node_id
from app.domain import enums as e
from app.domain.errors import ValidationFailed
from app.domain.sentiment import SentimentLabel as SentimentLabelEnum
from app.queries.interactions import InteractionListFilter, interaction_query
from app.services import archive
from app.services import interactions as service

ID = strawberry.ID
# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
InteractionType = e.InteractionType
strawberry.enum(InteractionType)
InteractionDirection = e.Direction
strawberry.enum(InteractionDirection, name="InteractionDirection")
ParticipantRole = e.ParticipantRole
strawberry.enum(ParticipantRole)
SentimentLabel = SentimentLabelEnum
strawberry.enum(SentimentLabel)


@strawberry.type
class InteractionParticipant(Node):
    role: ParticipantRole
    attended: bool
    feedback: str
    # The row's foreign key (`self` is the InteractionParticipant row: see app/api/types.py).
    contact_id: strawberry.Private[int]

    @strawberry.field
    async def contact(self, info: CtxInfo) -> Contact:
        return await info.context.loaders.contact.load(self.contact_id)


@strawberry.type(description="A call, email, meeting, demo, support contact or event with a customer.")
class CustomerInteraction(Node):
    type: InteractionType
    direction: InteractionDirection
    subject: str
    description: str
    outcome: Optional[Outcome]
    sentiment: Optional[float] = strawberry.field(description="From our point of view, −1 to 1: VADER with a food-service lexicon; a complaint about a competitor or the buyer's current supplier counts as a buying signal (README: Interactions).")
    sentiment_label: Optional[SentimentLabel] = strawberry.field(
        description="positive ≥ 0.30, negative ≤ −0.30, neutral between.")
    next_steps: str
    follow_up_date: Optional[datetime]
    attachments: list[str]
    location: str
    occurred_at: datetime
    created_at: datetime
    archived_at: Optional[datetime] = strawberry.field(description=ARCHIVED_AT)
    # The row's columns read below (`self` is the CustomerInteraction row: see app/api/types.py).
    duration_minutes: strawberry.Private[Optional[int]]
    account_id: strawberry.Private[int]
    contact_id: strawberry.Private[Optional[int]]
    opportunity_id: strawberry.Private[Optional[int]]
    created_by_id: strawberry.Private[Optional[int]]

    @strawberry.field(description="Minutes.")
    def duration(self) -> Optional[int]:
        return self.duration_minutes

    @strawberry.field
    async def account(self, info: CtxInfo) -> Account:
        return await info.context.loaders.account.load(self.account_id)

    @strawberry.field
    async def contact(self, info: CtxInfo) -> Optional[Contact]:
        return await info.context.loaders.contact.load(self.contact_id) if self.contact_id else None

    @strawberry.field(description="The linked opportunity, if the caller may see it.")
    async def opportunity(self, info: CtxInfo) -> Optional[Opportunity]:
        if not self.opportunity_id:
            return None
        return await info.context.loaders.opportunity.load(self.opportunity_id)

    @strawberry.field
    async def participants(self, info: CtxInfo) -> list[InteractionParticipant]:
        return await info.context.loaders.interaction_participants.load(self.id)

    @strawberry.field
    async def created_by(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.created_by_id) if self.created_by_id else None


# Inputs ------------------------------------------------------------------------------------


@strawberry.type
class CustomerInteractionConnection(Connection[CustomerInteraction]):
    """Interactions, a page at a time: named so that app/api/types.py (Account.interactions,
    Opportunity.interactions) can refer to it lazily."""


@strawberry.input
class ParticipantInput:
    contact_id: ID
    role: ParticipantRole = e.ParticipantRole.ATTENDEE
    attended: bool = True
    feedback: str = ""


@strawberry.input
class RecordInteractionInput:
    account_id: ID
    type: InteractionType
    subject: str
    direction: InteractionDirection = e.Direction.OUTBOUND
    description: str = ""
    outcome: Optional[Outcome] = None
    contact_id: Optional[ID] = None
    opportunity_id: Optional[ID] = None
    participants: Optional[list[ParticipantInput]] = None
    duration: Optional[int] = strawberry.field(default=None, description="Minutes.")
    location: str = ""
    attachments: Optional[list[str]] = None
    next_steps: str = ""
    follow_up_date: Optional[datetime] = strawberry.field(
        default=None, description="When to follow up: a Task and a Notification for the account owner then.")
    occurred_at: Optional[datetime] = strawberry.field(default=None, description="Default: now.")


@strawberry.input(description="UNSET leaves a field as it is; followUpDate: null cancels the follow-up.")
class UpdateInteractionInput:
    subject: Optional[str] = UNSET
    description: Optional[str] = UNSET
    outcome: Optional[Outcome] = UNSET
    next_steps: Optional[str] = UNSET
    duration: Optional[int] = UNSET
    location: Optional[str] = UNSET
    attachments: Optional[list[str]] = UNSET
    follow_up_date: Optional[datetime] = UNSET


@strawberry.input
class InteractionFilter:
    account_id: Optional[ID] = None
    opportunity_id: Optional[ID] = None
    type: Optional[list[InteractionType]] = None
    direction: Optional[InteractionDirection] = None
    from_: Optional[datetime] = strawberry.field(default=None, name="from", description="occurredAt ≥ from")
    to: Optional[datetime] = strawberry.field(default=None, description="occurredAt < to")
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")
    archived: bool = strawberry.field(default=False, description=ARCHIVED_FILTER)


def _service_data(value: Any) -> dict:
    data = input_data(value)
    if data.get("participants") is not None:
        data["participants"] = [
            {"contact_id": parse_id(p.contact_id, "participants", "Contact"), "role": p.role, "attended": p.attended,
             "feedback": p.feedback} for p in data["participants"]
        ]
    return data


def _list_filter(f: InteractionFilter | None) -> InteractionListFilter | None:
    if f is None:
        return None
    data = input_data(f)
    return InteractionListFilter(
        account_id=data.get("account_id"), opportunity_id=data.get("opportunity_id"),
        types=data.get("type"), direction=data.get("direction"),
        occurred_from=data.get("from_"), occurred_to=data.get("to"), updated_since=data.get("updated_since"),
        archived=bool(data.get("archived")),
    )


# Insights ----------------------------------------------------------------------------------


@strawberry.type
class InteractionTypeCount:
    type: InteractionType
    count: int


@strawberry.type
class WeeklyInteractionTrend:
    week_start: date = strawberry.field(description="Monday of the ISO week (UTC).")
    interactions: int
    average_sentiment: Optional[float]


@strawberry.type
class InteractionTrends:
    weekly: list[WeeklyInteractionTrend]
    previous_period_start: datetime
    previous_period_end: datetime
    previous_total_interactions: int
    previous_average_sentiment: Optional[float]
    interaction_change: int = strawberry.field(description="This period's count minus the previous period's.")
    interaction_change_percent: Optional[float] = strawberry.field(description="Null when the previous period had none.")
    sentiment_change: Optional[float]


@strawberry.type
class InteractionInsights:
    account_id: ID
    timeframe: str
    period_start: datetime
    period_end: datetime = strawberry.field(description="Exclusive; now when the timeframe is still running.")
    total_interactions: int
    by_type: list[InteractionTypeCount]
    average_sentiment: Optional[float]
    response_time: Optional[float] = strawberry.field(
        description="Average hours from an inbound customer interaction to our next outbound one.")
    unanswered_inbound: int
    trends: InteractionTrends
    recommendations: list[str]

    @classmethod
    def build(cls, r: service.InteractionInsights) -> "InteractionInsights":
        c = r.comparison
        return cls(
            account_id=node_id("Account", r.account_id), timeframe=r.timeframe.label,
            period_start=r.start, period_end=r.end, total_interactions=r.total_interactions,
            by_type=[InteractionTypeCount(type=e.InteractionType(k), count=n) for k, n in sorted(r.by_type.items())],
            average_sentiment=r.average_sentiment, response_time=r.responses.average_hours,
            unanswered_inbound=r.responses.unanswered,
            trends=InteractionTrends(
                weekly=[WeeklyInteractionTrend(week_start=w.week_start, interactions=w.interactions,
                                               average_sentiment=w.average_sentiment) for w in r.weeks],
                previous_period_start=r.previous_start, previous_period_end=r.start,
                previous_total_interactions=c.previous.total, previous_average_sentiment=c.previous.average_sentiment,
                interaction_change=c.interaction_change, interaction_change_percent=c.interaction_change_percent,
                sentiment_change=c.sentiment_change,
            ),
            recommendations=r.recommendations,
        )


# Roots -------------------------------------------------------------------------------------


@strawberry.type
class InteractionPayload:
    interaction: Optional[CustomerInteraction] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InteractionQuery:
    @strawberry.field
    async def interaction(self, info: CtxInfo, id: ID) -> Optional[CustomerInteraction]:
        scope = require_scope(info)
        try:
            return cast(CustomerInteraction, await service.visible_interaction(scope, parse_id(id, "id", "CustomerInteraction")))
        except ValidationFailed:
            return None

    @strawberry.field(description="Interactions on accounts the caller may see, newest first.")
    async def interactions(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[InteractionFilter] = None,
    ) -> CustomerInteractionConnection:
        scope = require_scope(info)
        try:
            qs = interaction_query(scope, _list_filter(filter))
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None
        return cast(CustomerInteractionConnection, await page_connection(qs, first, after, "occurred_at", SortDirection.DESC))

    @strawberry.field(description="Interaction figures for one account over a timeframe (last_30_days, this_quarter, "
                                  "2026-Q3, 2026-11, 2026-01-01..2026-03-31, …); null for an account you cannot see.")
    async def interaction_insights(self, info: CtxInfo, account_id: ID, timeframe: str) -> Optional[InteractionInsights]:
        scope = require_scope(info)
        try:
            report = await service.interaction_insights(scope, parse_id(account_id, "account_id"), timeframe)
        except ValidationFailed as exc:
            if exc.errors[0].field == "timeframe":
                raise bad_user_input(exc) from None
            return None
        return InteractionInsights.build(report)


@strawberry.type
class InteractionMutation:
    @strawberry.mutation(description="Record an interaction: sentiment, last activity, follow-up job, opportunity activity.")
    async def record_interaction(self, info: CtxInfo, input: RecordInteractionInput) -> InteractionPayload:
        return await run_mutation(info, InteractionPayload, "interaction",
                                  lambda s: service.record_interaction(s, _service_data(input)))

    @strawberry.mutation(description="Edit an interaction; changing or clearing followUpDate reschedules or cancels it.")
    async def update_interaction(self, info: CtxInfo, id: ID, input: UpdateInteractionInput) -> InteractionPayload:
        return await run_mutation(info, InteractionPayload, "interaction",
                                  lambda s: service.update_interaction(s, parse_id(id, "id", "CustomerInteraction"), _service_data(input)))

    @strawberry.mutation(description="Put the interaction away (and, for a contact logged on a deal, its activity): "
                                     "out of lists; restoreInteraction brings it back.")
    async def archive_interaction(self, info: CtxInfo, id: ID) -> InteractionPayload:
        return await run_mutation(info, InteractionPayload, "interaction",
                                  lambda s: archive.archive_interaction(s, parse_id(id, "id", "CustomerInteraction")))

    @strawberry.mutation
    async def restore_interaction(self, info: CtxInfo, id: ID) -> InteractionPayload:
        return await run_mutation(info, InteractionPayload, "interaction",
                                  lambda s: archive.restore_interaction(s, parse_id(id, "id", "CustomerInteraction")))
