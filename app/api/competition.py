"""GraphQL for competitive intelligence: competitors, battlecards, analysis and the win/loss report."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Optional, cast

import strawberry
from strawberry import UNSET

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import Industry, Pricing, ProductCategory
from app.api.errors import input_data, parse_id, require_scope, deleting, run_mutation
from app.api.user_input import bad_user_input
from app.api.mutations import DeletePayload, OpportunityPayload
from app.api.types import Competitor, Node, Opportunity, UserError
from app.domain import competition as rules
from app.domain.errors import ValidationFailed
from app.queries.competition import WinLossFilter
from app.services import competition

ID = strawberry.ID
# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
ThreatLevel = rules.ThreatLevel
strawberry.enum(ThreatLevel)


# Battlecards ----------------------------------------------------------------------------


@strawberry.type
class ObjectionResponse:
    objection: str
    response: str


@strawberry.type(description="Sales guidance against one competitor.")
class BattleCard(Node):
    title: str
    summary: str
    proof_points: list[str]
    created_at: datetime
    updated_at: datetime
    competitor_id: strawberry.Private[int]

    @strawberry.field
    def objection_handling(self) -> list[ObjectionResponse]:
        row = cast(m.BattleCard, self)  # the model row, whose objection_handling is the stored JSON
        return [ObjectionResponse(objection=i.get("objection", ""), response=i.get("response", ""))
                for i in row.objection_handling or []]

    @strawberry.field
    async def competitor(self, info: CtxInfo) -> Competitor:
        return await info.context.loaders.competitor.load(self.competitor_id)


# Analysis -------------------------------------------------------------------------------


@strawberry.type(description="Our closed deals on which the competitor was recorded (company-wide).")
class CompetitorRecord:
    won: int
    lost: int
    closed: int
    win_rate: Optional[Decimal]


@strawberry.type
class CompetitorAnalysis:
    competitor: Competitor
    name: str
    threat_level: ThreatLevel
    threat_score: Decimal = strawberry.field(description="Base score plus the record adjustment, never below 0.")
    base_threat_score: Decimal = strawberry.field(description="The product spec's score.")
    record_adjustment: Decimal = strawberry.field(description="From our win rate against them; 0 below 5 closed deals.")
    threat_factors: list[str] = strawberry.field(description="Why: each part of the score in words.")
    record: CompetitorRecord
    strengths: list[str]
    weaknesses: list[str]
    positioning: str
    battlecards: list[BattleCard]


@strawberry.type
class CompetitiveAnalysis:
    opportunity: Opportunity
    competitors: list[CompetitorAnalysis]
    recommendations: list[str]
    win_probability: int = strawberry.field(description="Percent: the opportunity's probability less threat deductions.")


def _analysis(result: competition.CompetitiveAnalysis) -> CompetitiveAnalysis:
    def one(item: competition.CompetitorAnalysis) -> CompetitorAnalysis:
        a, threat, record = item.assessment, item.assessment.threat, item.assessment.record
        return CompetitorAnalysis(
            competitor=cast(Competitor, item.competitor), name=a.profile.name, threat_level=threat.level,
            threat_score=threat.score, base_threat_score=threat.base_score, record_adjustment=threat.adjustment,
            threat_factors=list(threat.factors),
            record=CompetitorRecord(won=record.won, lost=record.lost, closed=record.closed,
                                    win_rate=rules.win_rate(record.won, record.lost)),
            strengths=list(a.profile.strengths), weaknesses=list(a.profile.weaknesses), positioning=a.positioning,
            battlecards=cast(list[BattleCard], item.battlecards),
        )

    return CompetitiveAnalysis(
        opportunity=cast(Opportunity, result.opportunity), competitors=[one(c) for c in result.competitors],
        recommendations=result.recommendations, win_probability=result.win_probability,
    )


# Win/loss -------------------------------------------------------------------------------


@strawberry.type
class LostReasonCount:
    reason: str = strawberry.field(description="The `lostReasons` entry's name.")
    count: int
    key: str = strawberry.field(description="Its key (losses that name no entry are not counted here).")


@strawberry.type(description="One competitor over a timeframe: see the README for what counts as faced.")
class CompetitorWinLoss:
    name: str
    faced: int = strawberry.field(description="Closed in the timeframe, or open and created in it.")
    open: int = strawberry.field(description="Still open, created in the timeframe.")
    won: int
    lost: int
    win_rate: Optional[Decimal] = strawberry.field(description="won / (won + lost); null when none closed.")
    value_won: Decimal
    value_lost: Decimal
    top_lost_reasons: list[LostReasonCount] = strawberry.field(description="Up to 3, most frequent first.")
    competitor_id: strawberry.Private[int]

    @strawberry.field
    async def competitor(self, info: CtxInfo) -> Competitor:
        return await info.context.loaders.competitor.load(self.competitor_id)


@strawberry.input
class CompetitorWinLossFilter:
    competitor_ids: Optional[list[ID]] = None
    assigned_to: Optional[list[ID]] = None
    account_id: Optional[ID] = None
    pipeline_id: Optional[ID] = None
    industry: Optional[list[Industry]] = None


def _win_loss_filter(f: CompetitorWinLossFilter | None) -> WinLossFilter:
    if f is None:
        return WinLossFilter()
    return WinLossFilter(
        competitor_ids=[parse_id(v, "competitor_ids") for v in f.competitor_ids or []],
        assigned_to=[parse_id(v, "assigned_to") for v in f.assigned_to or []],
        account_id=parse_id(f.account_id, "account_id") if f.account_id else None,
        pipeline_id=parse_id(f.pipeline_id, "pipeline_id") if f.pipeline_id else None,
        industries=[i.value for i in f.industry or []],
    )


# Inputs and roots -----------------------------------------------------------------------


@strawberry.input
class CompetitorInput:
    name: Optional[str] = UNSET
    website: Optional[str] = UNSET
    description: Optional[str] = UNSET
    strengths: Optional[list[str]] = UNSET
    weaknesses: Optional[list[str]] = UNSET
    pricing: Optional[Pricing] = UNSET
    market_share: Optional[Decimal] = strawberry.field(default=UNSET, description="A fraction 0–1: 0.25 is 25%.")
    incumbent_categories: Optional[list[ProductCategory]] = strawberry.field(
        default=UNSET, description="Product categories where they are the incumbent supplier."
    )


@strawberry.input
class ObjectionResponseInput:
    objection: str
    response: str


@strawberry.input
class BattleCardInput:
    competitor_id: Optional[ID] = UNSET
    title: Optional[str] = UNSET
    summary: Optional[str] = UNSET
    objection_handling: Optional[list[ObjectionResponseInput]] = UNSET
    proof_points: Optional[list[str]] = UNSET


def _battlecard_data(value: BattleCardInput) -> dict:
    data = input_data(value)
    if data.get("objection_handling") is not None:
        data["objection_handling"] = [dataclasses.asdict(item) for item in data["objection_handling"]]
    return data


@strawberry.type
class CompetitorPayload:
    competitor: Optional[Competitor] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BattleCardPayload:
    battlecard: Optional[BattleCard] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CompetitionQuery:
    @strawberry.field(description="Every competitor, by name; `search` matches part of the name.")
    async def competitors(self, info: CtxInfo, search: Optional[str] = None) -> list[Competitor]:
        require_scope(info)
        qs = m.Competitor.all()
        if search and search.strip():
            qs = qs.filter(name__icontains=search.strip())
        return cast(list[Competitor], await qs.order_by("name", "id"))

    @strawberry.field
    async def competitor(self, info: CtxInfo, id: ID) -> Optional[Competitor]:
        require_scope(info)
        try:
            return cast(Optional[Competitor], await m.Competitor.get_or_none(id=parse_id(id, "id", "Competitor")))
        except ValidationFailed:
            return None

    @strawberry.field(description="Threat, positioning and battlecards per competitor; null if you cannot see the opportunity.")
    async def competitive_analysis(self, info: CtxInfo, opportunity_id: ID) -> Optional[CompetitiveAnalysis]:
        scope = require_scope(info)
        try:
            return _analysis(await competition.competitive_analysis(scope, parse_id(opportunity_id, "opportunity_id")))
        except ValidationFailed:
            return None

    @strawberry.field(description="Per competitor over a timeframe (last_30_days, this_quarter, 2026-Q3, 2026-11, "
                                  "2026-01-01..2026-03-31, …), on the opportunities you can see.")
    async def competitor_win_loss(
        self, info: CtxInfo, timeframe: str, filter: Optional[CompetitorWinLossFilter] = None
    ) -> list[CompetitorWinLoss]:
        scope = require_scope(info)
        try:
            return await competition.competitor_win_loss(scope, timeframe, _win_loss_filter(filter))
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None


@strawberry.type
class CompetitionMutation:
    @strawberry.mutation(description="Managers and admins only.")
    async def create_competitor(self, info: CtxInfo, input: CompetitorInput) -> CompetitorPayload:
        return await run_mutation(info, CompetitorPayload, "competitor",
                                  lambda s: competition.create_competitor(s, input_data(input)))

    @strawberry.mutation(description="Managers and admins only.")
    async def update_competitor(self, info: CtxInfo, id: ID, input: CompetitorInput) -> CompetitorPayload:
        return await run_mutation(info, CompetitorPayload, "competitor",
                                  lambda s: competition.update_competitor(s, parse_id(id, "id", "Competitor"), input_data(input)))

    @strawberry.mutation(description="Managers and admins only; refused while the competitor is on opportunities.")
    async def delete_competitor(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("Competitor", lambda s: competition.delete_competitor(s, parse_id(id, "id", "Competitor"))))

    @strawberry.mutation(description="Managers and admins only.")
    async def create_battle_card(self, info: CtxInfo, input: BattleCardInput) -> BattleCardPayload:
        return await run_mutation(info, BattleCardPayload, "battlecard",
                                  lambda s: competition.create_battlecard(s, _battlecard_data(input)))

    @strawberry.mutation(description="Managers and admins only.")
    async def update_battle_card(self, info: CtxInfo, id: ID, input: BattleCardInput) -> BattleCardPayload:
        return await run_mutation(info, BattleCardPayload, "battlecard", lambda s: competition.update_battlecard(
            s, parse_id(id, "id", "BattleCard"), _battlecard_data(input)))

    @strawberry.mutation(description="Managers and admins only.")
    async def delete_battle_card(self, info: CtxInfo, id: ID) -> DeletePayload:
        return await run_mutation(info, DeletePayload, "deleted_id",
                                  deleting("BattleCard", lambda s: competition.delete_battlecard(s, parse_id(id, "id", "BattleCard"))))

    @strawberry.mutation(description="Link a competitor to an opportunity you can see; its battlecards come with it.")
    async def add_opportunity_competitor(self, info: CtxInfo, opportunity_id: ID, competitor_id: ID) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity", lambda s: competition.add_opportunity_competitor(
            s, parse_id(opportunity_id, "opportunity_id"), parse_id(competitor_id, "competitor_id")))

    @strawberry.mutation
    async def remove_opportunity_competitor(
        self, info: CtxInfo, opportunity_id: ID, competitor_id: ID
    ) -> OpportunityPayload:
        return await run_mutation(info, OpportunityPayload, "opportunity",
                                  lambda s: competition.remove_opportunity_competitor(
                                      s, parse_id(opportunity_id, "opportunity_id"),
                                      parse_id(competitor_id, "competitor_id")))
