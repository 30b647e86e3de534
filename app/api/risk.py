"""GraphQL for the at-risk list (app.services.risk)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional, cast

import strawberry

from app.api.context import CtxInfo
from app.api.enums import SortDirection
from app.api.errors import require_scope
from app.api.relay import Connection, page_connection
from app.api.types import Opportunity
from app.domain.risk import RiskReason as RiskReasonEnum
from app.services import risk

RiskReason = RiskReasonEnum
strawberry.enum(RiskReason, description=(
    "STALE: `isStale`; OVERDUE: open past its expected close date; NEGATIVE_SENTIMENT: the account's "
    "interactions of the last 30 days average −0.30 or below, or fell by 0.20 or more against the 30 days "
    "before; HIGH_THREAT_COMPETITOR: a competitor on the deal is assessed HIGH (as competitiveAnalysis does)."))


@strawberry.type(description="An open deal that needs attention, and why.")
class AtRiskOpportunity:
    opportunity: Opportunity
    reasons: list[RiskReason]


@strawberry.type
class RiskQuery:
    @strawberry.field(description="Open deals you may see with at least one risk reason, largest value first: a "
                                  "manager's Monday list in one request.")
    async def at_risk_opportunities(self, info: CtxInfo, first: Optional[int] = 20,
                                    after: Optional[str] = None) -> Connection[AtRiskOpportunity]:
        scope = require_scope(info)
        signals = await risk.risk_signals(scope, datetime.now(timezone.utc))
        connection = await page_connection(risk.at_risk_query(scope, signals), first, after, "value",
                                           SortDirection.DESC)
        reasons = await risk.reasons_for(signals, [edge.node for edge in connection.edges])
        for edge in connection.edges:
            deal = edge.node
            edge.node = AtRiskOpportunity(opportunity=cast(Opportunity, deal), reasons=reasons[deal.id])
        return cast(Connection[AtRiskOpportunity], connection)
