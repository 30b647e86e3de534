"""Pipeline analytics rules: report filters, the stage chain conversion walks along, null-safe rates,
sales velocity and trend buckets.

Pure functions over plain values; app.queries.analytics computes the aggregates in SQL and
app.services.analytics assembles the report. The README section "Pipeline analytics and
forecasting" states the same definitions in prose.

- Conversion (a cohort): of the opportunities that entered stage i in the window, the share that
  later reached stage i+1 or beyond (an open stage further along, or a won stage); a skipped stage
  counts as passed, a lost stage is never "beyond".
- Rates and averages over an empty set are None (null), never a division by zero.
- Sales velocity = open opportunities × win rate × average won deal size ÷ average sales cycle,
  money per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, Iterable, Sequence

from app.domain.enums import StageKind
from app.domain.errors import ErrorCode, FieldError, ValidationFailed
from app.domain.opportunities import CENT
from app.domain.pipeline import StageSpec

# Windows up to this many days are bucketed by week when no interval is asked for, longer ones by month.
WEEKLY_UP_TO_DAYS = 92
# Rank of a lost stage: below every open stage, so reaching it never counts as progress.
LOST_RANK = 0


class TrendInterval(str, Enum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class PipelineFilters:
    """What a report or forecast is narrowed to, on top of the caller's visibility.

    Every set field must match (AND); a list matches any of its values (OR)."""

    assigned_to: tuple[int, ...] = ()
    team_manager_id: int | None = None  # the manager and the users who report to them
    account_id: int | None = None
    tiers: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    product_categories: tuple[str, ...] = ()  # at least one product line in one of them
    value_min: Decimal | None = None
    value_max: Decimal | None = None
    pipeline_id: int | None = None


def check_filters(filters: PipelineFilters) -> None:
    """Raise ValidationFailed for a value range that cannot match anything meaningful."""
    errors: list[FieldError] = []
    for name in ("value_min", "value_max"):
        value = getattr(filters, name)
        if value is not None and value < 0:
            errors.append(FieldError(f"filters.{name}", "must not be negative", ErrorCode.OUT_OF_RANGE))
    if not errors and filters.value_min is not None and filters.value_max is not None \
            and filters.value_min > filters.value_max:
        errors.append(FieldError("filters.value_max", "must not be below valueMin", ErrorCode.OUT_OF_RANGE))
    if errors:
        raise ValidationFailed(errors)


# Null-safe arithmetic ---------------------------------------------------------------------


def money(raw: Any) -> Decimal:
    """A SQL money aggregate as Decimal to the cent: PostgreSQL NUMERIC is exact already, SQLite's
    SUM over its text-stored decimals is a float (exact to the cent at our magnitudes)."""
    if raw is None:
        return Decimal("0.00")
    return Decimal(str(raw)).quantize(CENT, ROUND_HALF_UP)


def rate(part: float | int | Decimal, whole: float | int | Decimal) -> float | None:
    """part ÷ whole as a float, None when whole is zero (nothing to measure)."""
    if not whole:
        return None
    return float(part) / float(whole)


def average_money(total: Decimal, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / count).quantize(CENT, ROUND_HALF_UP)


def average(total: float | int | Decimal, count: int, digits: int = 4) -> float | None:
    if not count:
        return None
    return round(float(Decimal(total) / count), digits)


# The stage chain ------------------------------------------------------------------------


def stage_chain(stages: Sequence[StageSpec]) -> list[StageSpec]:
    """The stages conversion walks along: open stages in order, then the first won stage."""
    ordered = sorted(stages, key=lambda s: (s.order, s.id))
    chain = [s for s in ordered if s.kind is StageKind.OPEN]
    won = [s for s in ordered if s.kind is StageKind.WON]
    return chain + won[:1]


def stage_ranks(stages: Sequence[StageSpec]) -> dict[int, int]:
    """Progress rank per stage id: open stages 1…k in order, every won stage k+1, lost stages 0.

    "Reached stage i+1 or beyond" is "reached a stage whose rank exceeds stage i's"."""
    ordered = sorted(stages, key=lambda s: (s.order, s.id))
    open_stages = [s for s in ordered if s.kind is StageKind.OPEN]
    ranks = {s.id: i + 1 for i, s in enumerate(open_stages)}
    for s in ordered:
        if s.kind is StageKind.WON:
            ranks[s.id] = len(open_stages) + 1
        elif s.kind is StageKind.LOST:
            ranks[s.id] = LOST_RANK
    return ranks


@dataclass(frozen=True)
class Conversion:
    from_stage: str
    to_stage: str
    entered: int
    advanced: int
    rate: float | None


def conversions(stages: Sequence[StageSpec], entered: dict[int, int], advanced: dict[int, int]) -> list[Conversion]:
    """One step per consecutive pair of the chain; entered/advanced are counted per from-stage id."""
    chain = stage_chain(stages)
    steps = []
    for current, following in pairwise(chain):
        n, k = entered.get(current.id, 0), advanced.get(current.id, 0)
        steps.append(Conversion(current.key, following.key, n, k, rate(k, n)))
    return steps


# Velocity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedFigures:
    """Deals closed in the window (by their actual close date), from the report population."""

    won: int = 0
    lost: int = 0
    won_value: Decimal = Decimal("0.00")
    won_cycle_days: int = 0  # Σ (close date − creation date) over the won deals
    closed_cycle_days: int = 0  # the same over won and lost deals

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.closed)

    @property
    def average_sales_cycle(self) -> float | None:
        return average(self.won_cycle_days, self.won)

    @property
    def average_days_to_close(self) -> float | None:
        return average(self.closed_cycle_days, self.closed)

    @property
    def average_won_deal_size(self) -> Decimal | None:
        return average_money(self.won_value, self.won)


def sales_velocity(open_count: int, closed: ClosedFigures) -> Decimal | None:
    """open × win rate × average won deal size ÷ average sales cycle (money per day).

    With win rate = won ÷ closed, average deal = won value ÷ won and average cycle = Σ cycle ÷ won,
    this is open × won value × won ÷ (closed × Σ cycle), computed exactly. None when any factor is
    undefined (nothing closed, nothing won) or the average cycle is zero days."""
    if not closed.closed or not closed.won or not closed.won_cycle_days:
        return None
    exact = Fraction(open_count) * Fraction(closed.won_value) * closed.won / (closed.closed * closed.won_cycle_days)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class StageTime:
    stage: str
    average_days: float | None
    count: int


def stage_times(stages: Sequence[StageSpec], seconds: dict[int, float], counts: dict[int, int]) -> list[StageTime]:
    """Average completed stay per open stage in days; None with a zero count for a stage nobody left."""
    out = []
    for s in stage_chain(stages):
        if s.kind is not StageKind.OPEN:
            continue
        n = counts.get(s.id, 0)
        out.append(StageTime(s.key, average(Decimal(str(seconds.get(s.id, 0))) / 86400, n), n))
    return out


# Trends --------------------------------------------------------------------------------


def pick_interval(first_day: date, end_date: date, requested: TrendInterval | None) -> TrendInterval:
    if requested is not None:
        return requested
    return TrendInterval.WEEK if (end_date - first_day).days <= WEEKLY_UP_TO_DAYS else TrendInterval.MONTH


def bucket_start(day: date, interval: TrendInterval) -> date:
    """Monday of the ISO week, or the first of the month."""
    if interval is TrendInterval.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_bucket(start: date, interval: TrendInterval) -> date:
    if interval is TrendInterval.WEEK:
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


@dataclass(frozen=True)
class TrendBucket:
    key: date  # the bucket's calendar start (Monday / first of month)
    start: date  # clipped to the window
    end: date  # exclusive, clipped to the window
    created: int = 0
    created_value: Decimal = Decimal("0.00")
    won: int = 0
    won_value: Decimal = Decimal("0.00")
    lost: int = 0
    lost_value: Decimal = Decimal("0.00")

    @property
    def win_rate(self) -> float | None:
        return rate(self.won, self.won + self.lost)


def trend_buckets(first_day: date, end_date: date, interval: TrendInterval,
                  rows: Iterable[tuple[str, date, int, Decimal]]) -> list[TrendBucket]:
    """Every bucket meeting [first_day, end_date), filled from (kind, bucket start, count, value) rows
    where kind is "created", "won" or "lost"; empty buckets stay in the list with zeros."""
    figures: dict[date, dict[str, Any]] = {}
    for kind, key, count, value in rows:
        slot = figures.setdefault(key, {})
        slot[kind] = int(count or 0)
        slot[f"{kind}_value"] = money(value)
    buckets = []
    key = bucket_start(first_day, interval)
    while key < end_date:
        following = _next_bucket(key, interval)
        buckets.append(TrendBucket(key, max(key, first_day), min(following, end_date), **figures.get(key, {})))
        key = following
    return buckets
