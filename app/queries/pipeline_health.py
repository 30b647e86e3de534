"""The clock-dependent list filters on opportunities, as SQL: the same rules the API shows per deal."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tortoise.expressions import Q, Subquery

from app import models as m
from app.domain.enums import ActivityType, StageKind


async def stale_filter(now: datetime) -> Q:
    """The deals Opportunity.isStale calls stale at `now` (app.domain.pipeline.is_stale): in an open
    stage that has an expected duration, entered longer ago than that duration, with nothing
    meaningful (non-system, not archived) scheduled ahead. The rule's other branch (no activity for the duration)
    never adds a deal: its last touch is never before it entered the stage."""
    stages = await m.PipelineStage.filter(kind=StageKind.OPEN, expected_duration_days__gt=0).values(
        "id", "expected_duration_days")
    too_long = Q(id__in=[])
    for stage in stages:
        too_long |= Q(stage_id=stage["id"],
                      stage_entered_at__lt=now - timedelta(days=stage["expected_duration_days"]))
    scheduled = m.OpportunityActivity.filter(scheduled_at__gt=now, completed_at__isnull=True,
                                             archived_at__isnull=True).exclude(
        type=ActivityType.SYSTEM).values("opportunity_id")
    return too_long & ~Q(id__in=Subquery(scheduled))


def overdue_filter(today: date) -> Q:
    """Still open after its expected close date (UTC days)."""
    return Q(stage__kind=StageKind.OPEN, expected_close_date__lt=today)
