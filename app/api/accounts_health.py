"""GraphQL for account health: accountHealth (computed now, optionally rolled up over subsidiaries)
and the stored history of recomputations."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import strawberry

from app.api.context import CtxInfo
from app.api.errors import parse_id, require_scope
from app.api.types import node_id, node_pk
from app.domain.errors import ValidationFailed
from app.domain.health import AccountHealth as Assessment
from app.domain.health import Impact as ImpactEnum
from app.domain.health import RiskLevel as RiskLevelEnum
from app.services import health as service

ID = strawberry.ID
# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
FactorImpact = ImpactEnum
strawberry.enum(FactorImpact, name="FactorImpact")
RiskLevel = RiskLevelEnum
strawberry.enum(RiskLevel)


@strawberry.type(description="One of the four health factors, 0–25 points each.")
class HealthFactor:
    name: str
    score: int
    impact: FactorImpact
    detail: str = strawberry.field(description="The figure behind the score, in words.")


@strawberry.type(description="A stored recomputation of the account's own health.")
class HealthSnapshot:
    health_score: int
    risk_level: RiskLevel
    factors: list[HealthFactor]
    computed_at: datetime

    @classmethod
    def from_model(cls, snapshot) -> "HealthSnapshot":
        return cls(
            health_score=snapshot.score, risk_level=RiskLevelEnum(snapshot.risk_level), computed_at=snapshot.computed_at,
            factors=[HealthFactor(name=f["name"], score=f["score"], impact=ImpactEnum(f["impact"]),
                                  detail=f.get("detail", "")) for f in snapshot.factors],
        )


async def _history(info: CtxInfo, account_id: int, first: int) -> Optional[list[HealthSnapshot]]:
    try:
        snapshots = await service.health_history(require_scope(info), account_id, first)
    except ValidationFailed:
        return None
    return [HealthSnapshot.from_model(s) for s in snapshots]


@strawberry.type
class AccountHealth:
    account_id: ID
    health_score: int = strawberry.field(description="0–100: the sum of the four factors.")
    factors: list[HealthFactor]
    risk_level: RiskLevel = strawberry.field(description="low ≥ 70, medium 40–69, high below 40.")
    recommendations: list[str]
    includes_subsidiaries: bool
    account_count: int = strawberry.field(description="Accounts assessed together (1 without the roll-up).")
    computed_at: datetime

    @strawberry.field(description="Stored recomputations of the account's own health, newest first.")
    async def health_history(self, info: CtxInfo, first: int = 30) -> list[HealthSnapshot]:
        return await _history(info, node_pk(self.account_id, "Account"), first) or []

    @classmethod
    def build(cls, report: service.HealthReport, include_subsidiaries: bool) -> "AccountHealth":
        h: Assessment = report.health
        return cls(
            account_id=node_id("Account", report.account_id), health_score=h.score, risk_level=h.risk_level,
            factors=[HealthFactor(name=f.name, score=f.score, impact=f.impact, detail=f.detail) for f in h.factors],
            recommendations=h.recommendations, includes_subsidiaries=include_subsidiaries,
            account_count=len(report.account_ids), computed_at=report.computed_at,
        )


@strawberry.type
class HealthQuery:
    @strawberry.field(description="The account's health computed from current data; includeSubsidiaries rolls a chain "
                                  "up with the subsidiaries (and their locations' accounts) you can see. Null for an "
                                  "account you cannot see.")
    async def account_health(self, info: CtxInfo, account_id: ID,
                             include_subsidiaries: bool = False) -> Optional[AccountHealth]:
        scope = require_scope(info)
        try:
            report = await service.account_health(scope, parse_id(account_id, "account_id"),
                                                  include_subsidiaries=include_subsidiaries)
        except ValidationFailed:
            return None
        return AccountHealth.build(report, include_subsidiaries)

    @strawberry.field(description="Stored health recomputations of the account, newest first (at most 100).")
    async def account_health_history(self, info: CtxInfo, account_id: ID, first: int = 30) -> Optional[list[HealthSnapshot]]:
        require_scope(info)
        try:
            pk = parse_id(account_id, "account_id")
        except ValidationFailed:
            return None
        return await _history(info, pk, first)
