"""Read side of customer interactions: visibility, the list filter and the SQL aggregates behind
interaction insights and the engagement health factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence, cast

from tortoise.functions import Avg, Count

from app.domain.health import EngagementTotals
from app.domain.interactions import MEETING_TYPES, InteractionPoint, PeriodFigures
from app.models import CustomerInteraction, InteractionParticipant
from app.queries.archived import archived_filter
from app.queries.visibility import Scope, interaction_filter
from app.queries.changelog import updated_since_filter


@dataclass(frozen=True)
class InteractionListFilter:
    account_id: int | None = None
    opportunity_id: int | None = None
    types: Sequence[str] | None = None
    direction: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    updated_since: datetime | None = None
    archived: bool = False


def interaction_query(scope: Scope, f: InteractionListFilter | None = None):
    qs = CustomerInteraction.filter(interaction_filter(scope), archived_filter(CustomerInteraction, f.archived if f else False))
    if f is None:
        return qs
    if f.account_id is not None:
        qs = qs.filter(account_id=f.account_id)
    if f.opportunity_id is not None:
        qs = qs.filter(opportunity_id=f.opportunity_id)
    if f.types:
        qs = qs.filter(type__in=list(f.types))
    if f.direction is not None:
        qs = qs.filter(direction=f.direction)
    if f.occurred_from is not None:
        qs = qs.filter(occurred_at__gte=f.occurred_from)
    if f.occurred_to is not None:
        qs = qs.filter(occurred_at__lt=f.occurred_to)
    if f.updated_since is not None:
        qs = qs.filter(updated_since_filter(f.updated_since))
    return qs


def _window(account_ids: Sequence[int], start: datetime, end: datetime):
    return CustomerInteraction.filter(account_id__in=list(account_ids), occurred_at__gte=start, occurred_at__lt=end)


def _value(raw) -> str:
    return getattr(raw, "value", raw)


async def count_by_type(account_ids: Sequence[int], start: datetime, end: datetime) -> dict[str, int]:
    rows = await _window(account_ids, start, end).annotate(n=Count("id")).group_by("type").values("type", "n")
    return {_value(r["type"]): r["n"] for r in rows}


async def period_figures(account_ids: Sequence[int], start: datetime, end: datetime) -> PeriodFigures:
    """How many interactions, and their average sentiment (over those with a score)."""
    row = await _window(account_ids, start, end).annotate(n=Count("id"), avg=Avg("sentiment")).first().values("n", "avg")
    row = row or {"n": 0, "avg": None}
    average = round(float(row["avg"]), 4) if row["avg"] is not None else None
    return PeriodFigures(row["n"] or 0, average)


async def interaction_points(account_ids: Sequence[int], start: datetime, end: datetime) -> list[InteractionPoint]:
    """The period's interactions in time order: what response times and weekly trends are made of."""
    rows = await _window(account_ids, start, end).order_by("occurred_at", "id").values_list(
        "occurred_at", "direction", "sentiment"
    )
    return [InteractionPoint(at, _value(direction), sentiment) for at, direction, sentiment in rows]


async def last_meeting_at(account_ids: Sequence[int], before: datetime) -> datetime | None:
    row = await CustomerInteraction.filter(
        account_id__in=list(account_ids), type__in=list(MEETING_TYPES), occurred_at__lt=before
    ).order_by("-occurred_at").first().values_list("occurred_at", flat=True)
    # Tortoise types values_list() as a tuple whatever `flat` says; first() + flat=True gives the value or None.
    return cast("datetime | None", row)


async def engagement_totals(account_ids: Sequence[int], start: datetime, end: datetime) -> EngagementTotals:
    by_type = await count_by_type(account_ids, start, end)
    figures = await period_figures(account_ids, start, end)
    participants = InteractionParticipant.filter(
        interaction__account_id__in=list(account_ids), interaction__occurred_at__gte=start,
        interaction__occurred_at__lt=end,
    )
    invited = await participants.count()
    attended = await participants.filter(attended=True).count() if invited else 0
    return EngagementTotals(by_type, invited, attended, figures.average_sentiment)
