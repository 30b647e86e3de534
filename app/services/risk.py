"""A manager's at-risk list: open deals that are stale, overdue, on an account whose conversations are
souring, or up against a high-threat competitor — with the reasons, in one request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from tortoise.expressions import Q, Subquery
from tortoise.functions import Avg

from app import models as m
from app.domain import competition as rules
from app.domain.enums import StageKind
from app.domain.risk import SENTIMENT_WINDOW_DAYS, RiskReason, sentiment_at_risk
from app.queries import competition as competition_reads
from app.queries.pipeline_health import overdue_filter, stale_filter
from app.queries.visibility import Scope, opportunity_filter, read_filter
from app.services.competition import competitor_profile
from app.services.rows import int_column


@dataclass(frozen=True)
class RiskSignals:
    """What the reasons are checked against, read once per request."""

    stale: Q
    overdue: Q
    souring_accounts: frozenset[int]
    high_threat_competitors: frozenset[int]

    def against_competitor(self) -> Q:
        return Q(id__in=Subquery(m.Opportunity.filter(
            competitors__id__in=sorted(self.high_threat_competitors)).values("id")))

    def any_reason(self) -> Q:
        return (self.stale | self.overdue | Q(account_id__in=sorted(self.souring_accounts))
                | self.against_competitor())


async def _souring_accounts(scope: Scope, now: datetime) -> frozenset[int]:
    window = timedelta(days=SENTIMENT_WINDOW_DAYS)
    rows = await (m.CustomerInteraction.filter(read_filter(m.CustomerInteraction, scope),
                                               occurred_at__gte=now - 2 * window, occurred_at__lte=now,
                                               sentiment__isnull=False)
                  .annotate(current=Avg("sentiment", _filter=Q(occurred_at__gte=now - window)),
                            previous=Avg("sentiment", _filter=Q(occurred_at__lt=now - window)))
                  .group_by("account_id").values("account_id", "current", "previous"))
    return frozenset(r["account_id"] for r in rows
                     if sentiment_at_risk(_float(r["current"]), _float(r["previous"])))


def _float(value) -> float | None:
    return None if value is None else float(value)


async def _high_threat_competitors() -> frozenset[int]:
    competitors = await m.Competitor.all()
    records = await competition_reads.track_records([c.id for c in competitors])
    return frozenset(c.id for c in competitors
                     if rules.assess_threat(competitor_profile(c), rules.TrackRecord(*records.get(c.id, (0, 0)))).level
                     is rules.ThreatLevel.HIGH)


async def risk_signals(scope: Scope, now: datetime) -> RiskSignals:
    return RiskSignals(stale=await stale_filter(now), overdue=overdue_filter(now.date()),
                       souring_accounts=await _souring_accounts(scope, now),
                       high_threat_competitors=await _high_threat_competitors())


def at_risk_query(scope: Scope, signals: RiskSignals):
    """The visible open deals with at least one reason."""
    return m.Opportunity.filter(opportunity_filter(scope), signals.any_reason(), stage__kind=StageKind.OPEN,
                                archived_at__isnull=True)


async def reasons_for(signals: RiskSignals, deals: Sequence[m.Opportunity]) -> dict[int, list[RiskReason]]:
    """Each deal's reasons, in RiskReason order: three queries for the whole page."""
    ids = [d.id for d in deals]
    stale = set(await int_column(m.Opportunity.filter(signals.stale, id__in=ids)))
    overdue = set(await int_column(m.Opportunity.filter(signals.overdue, id__in=ids)))
    threatened = set(await int_column(m.Opportunity.filter(signals.against_competitor(), id__in=ids))) \
        if signals.high_threat_competitors else set()
    reasons: dict[int, list[RiskReason]] = {}
    for deal in deals:
        found = {RiskReason.STALE: deal.id in stale, RiskReason.OVERDUE: deal.id in overdue,
                 RiskReason.NEGATIVE_SENTIMENT: deal.account_id in signals.souring_accounts,
                 RiskReason.HIGH_THREAT_COMPETITOR: deal.id in threatened}
        reasons[deal.id] = [reason for reason, present in found.items() if present]
    return reasons

