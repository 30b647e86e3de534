"""Interaction insight maths: response time, weekly trends, the comparison with the previous period
and the recommendation rules. Pure functions over plain values; app.services.interactions feeds them.

- Response time: interactions in time order; an inbound (customer) interaction starts a wait unless
  one is already running; our next outbound interaction ends it. A run of inbound interactions
  before one answer counts once, from the first of the run. Waits still open at the end are
  "unanswered". The response time is the average wait in hours.
- Weekly trends: ISO weeks (Monday 00:00 UTC) touching the period, each with its number of
  interactions and their average sentiment (interactions without a score are counted, not averaged).
- Previous period: the period of the same length just before (see `previous_period`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

INBOUND = "inbound"
OUTBOUND = "outbound"
MEETING_TYPES = frozenset({"meeting", "demo"})
NO_MEETING_DAYS = 60
SLOW_RESPONSE_HOURS = 24.0
SENTIMENT_DROP = 0.20
NEGATIVE_SENTIMENT = -0.30


@dataclass(frozen=True)
class InteractionPoint:
    occurred_at: datetime
    direction: str
    sentiment: float | None = None


@dataclass(frozen=True)
class ResponseTimes:
    average_hours: float | None
    answered: int    # waits that ended with our answer
    unanswered: int  # inbound interactions after our last answer


@dataclass(frozen=True)
class WeekTrend:
    week_start: date
    interactions: int
    average_sentiment: float | None


@dataclass(frozen=True)
class PeriodFigures:
    total: int
    average_sentiment: float | None


@dataclass(frozen=True)
class PeriodComparison:
    current: PeriodFigures
    previous: PeriodFigures
    interaction_change: int
    interaction_change_percent: float | None
    sentiment_change: float | None


def response_times(points: list[InteractionPoint]) -> ResponseTimes:
    """Points must be in time order (ties in recording order)."""
    waits: list[float] = []
    waiting_since: datetime | None = None
    waiting = 0  # inbound interactions in the open run
    for point in points:
        if point.direction == INBOUND:
            waiting_since = waiting_since or point.occurred_at
            waiting += 1
        elif waiting_since is not None:
            waits.append((point.occurred_at - waiting_since).total_seconds() / 3600)
            waiting_since, waiting = None, 0
    mean = round(sum(waits) / len(waits), 2) if waits else None
    return ResponseTimes(mean, len(waits), waiting)


def average(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def week_start(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def weekly_trends(points: list[InteractionPoint], start: datetime, end: datetime) -> list[WeekTrend]:
    """One row per ISO week from the week of `start` to the week holding the last instant before `end`."""
    first = week_start(start)
    last = week_start(end - timedelta(microseconds=1))
    counts: dict[date, int] = {}
    scores: dict[date, list[float]] = {}
    for point in points:
        week = week_start(point.occurred_at)
        counts[week] = counts.get(week, 0) + 1
        if point.sentiment is not None:
            scores.setdefault(week, []).append(point.sentiment)
    weeks = []
    week = first
    while week <= last:
        weeks.append(WeekTrend(week, counts.get(week, 0), average(scores.get(week, []))))
        week += timedelta(days=7)
    return weeks


def previous_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start − (end − start), start): the period of the same length just before."""
    return start - (end - start), start


def compare(current: PeriodFigures, previous: PeriodFigures) -> PeriodComparison:
    change = current.total - previous.total
    percent = round(change * 100 / previous.total, 1) if previous.total else None
    sentiment_change = None
    if current.average_sentiment is not None and previous.average_sentiment is not None:
        sentiment_change = round(current.average_sentiment - previous.average_sentiment, 4)
    return PeriodComparison(current, previous, change, percent, sentiment_change)


def recommendations(
    comparison: PeriodComparison, responses: ResponseTimes, last_meeting_at: datetime | None, as_of: datetime
) -> list[str]:
    """The rules, in this order (the README lists them for sales managers)."""
    recs: list[str] = []
    current = comparison.current
    if current.total == 0:
        recs.append("No interactions in this period: reach out to the account.")
    if comparison.sentiment_change is not None and comparison.sentiment_change <= -SENTIMENT_DROP:
        recs.append(f"Sentiment is falling ({comparison.previous.average_sentiment:+.2f} → "
                    f"{current.average_sentiment:+.2f} against the previous period): find out what changed "
                    "and fix open complaints.")
    elif current.average_sentiment is not None and current.average_sentiment <= NEGATIVE_SENTIMENT:
        recs.append(f"Conversations are negative on average ({current.average_sentiment:+.2f}): "
                    "resolve open complaints before the next order.")
    if last_meeting_at is None or as_of - last_meeting_at > timedelta(days=NO_MEETING_DAYS):
        recs.append(f"No meeting or demo for {NO_MEETING_DAYS} days: book an on-site visit or a tasting.")
    if responses.average_hours is not None and responses.average_hours > SLOW_RESPONSE_HOURS:
        recs.append(f"Slow responses: {responses.average_hours:.1f} hours on average to answer the customer; "
                    "aim for same-day replies.")
    if responses.unanswered:
        recs.append(f"{responses.unanswered} customer contact(s) since our last outbound interaction are still "
                    "unanswered: reply today.")
    if comparison.previous.total >= 4 and current.total * 2 <= comparison.previous.total:
        recs.append(f"Contact volume halved ({comparison.previous.total} → {current.total} interactions): "
                    "check whether the account is drifting to a competitor.")
    return recs
