"""Account health: four factors of 0–25 points, the risk level and the recommendations.

Everything here is a pure function of `HealthInputs`; app.services.health gathers them with SQL
aggregates. The README section "Account health and interactions" states the same rules in prose.

- Recent activity: time since the account's last recorded interaction.
  ≤ 7 days → 25 (positive); ≤ 30 days → 15 (neutral); older or never → 5 (negative).
- Contract value: the sum of the account's ACTIVE contracts.
  > 500 000 → 25 (positive); > 100 000 → 15 (neutral); otherwise → 5 (negative).
- Engagement (0–25): interactions of the last 90 days.
  points = Σ type weight (meeting 3, demo 3, event 2, phone 2, email 1, support 1)
  × attendance rate (attended participants ÷ invited participants; 1 when none were recorded)
  × mood (1 + ½ × average sentiment, i.e. 0.5–1.5; 1 when no note has a score);
  engagement = min(25, points rounded half up).
- Growth (0–25): business of the last 12 months against the 12 before, where business = value of
  opportunities won (closed in a won stage) + value of contracts that started (any status but draft).
  Nothing in either year → 5; nothing before but something now → 25; otherwise the change
  (now − before) ÷ before: ≥ +20 % → 25; ≥ +5 % → 18; > −5 % → 10; > −20 % → 5; else 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

ACTIVITY_RECENT_DAYS = 7
ACTIVITY_STALE_DAYS = 30
CONTRACT_HIGH = Decimal("500000")
CONTRACT_MID = Decimal("100000")
ENGAGEMENT_WINDOW_DAYS = 90
GROWTH_WINDOW_DAYS = 365
FACTOR_MAX = 25
TYPE_WEIGHTS: dict[str, int] = {"meeting": 3, "demo": 3, "event": 2, "phone": 2, "email": 1, "support": 1}
# (lowest change that earns the score, score), checked from the top; below the last band: 0.
GROWTH_BANDS: tuple[tuple[Decimal, int], ...] = (
    (Decimal("0.20"), 25),
    (Decimal("0.05"), 18),
)
GROWTH_NO_BUSINESS = 5
GROWTH_NEW_BUSINESS = 25
RISK_LOW_FROM = 70
RISK_MEDIUM_FROM = 40
RENEWAL_HORIZON_DAYS = 90
NEGATIVE_MOOD = -0.30

RECENT_ACTIVITY = "Recent Activity"
CONTRACT_VALUE = "Contract Value"
ENGAGEMENT = "Engagement"
GROWTH = "Growth"


class Impact(str, Enum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class RiskLevel(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class EngagementTotals:
    """Aggregates over the interactions of the engagement window."""

    count_by_type: dict[str, int] = field(default_factory=dict)
    participants: int = 0
    attended: int = 0
    average_sentiment: float | None = None


@dataclass(frozen=True)
class HealthInputs:
    now: datetime
    last_activity_at: datetime | None
    active_contract_value: Decimal
    engagement: EngagementTotals
    business_last_12_months: Decimal
    business_previous_12_months: Decimal
    renewal_date: date | None = None


@dataclass(frozen=True)
class HealthFactor:
    name: str
    score: int
    impact: Impact
    detail: str


@dataclass(frozen=True)
class AccountHealth:
    score: int
    factors: list[HealthFactor]
    risk_level: RiskLevel
    recommendations: list[str]


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def recent_activity_factor(now: datetime, last_activity_at: datetime | None) -> HealthFactor:
    if last_activity_at is None:
        return HealthFactor(RECENT_ACTIVITY, 5, Impact.NEGATIVE, "no interaction recorded")
    elapsed = now - last_activity_at
    detail = f"last interaction {elapsed.days} days ago"
    if elapsed <= timedelta(days=ACTIVITY_RECENT_DAYS):
        return HealthFactor(RECENT_ACTIVITY, 25, Impact.POSITIVE, detail)
    if elapsed <= timedelta(days=ACTIVITY_STALE_DAYS):
        return HealthFactor(RECENT_ACTIVITY, 15, Impact.NEUTRAL, detail)
    return HealthFactor(RECENT_ACTIVITY, 5, Impact.NEGATIVE, detail)


def contract_value_factor(total: Decimal) -> HealthFactor:
    detail = f"active contracts worth {_money(total)}"
    if total > CONTRACT_HIGH:
        return HealthFactor(CONTRACT_VALUE, 25, Impact.POSITIVE, detail)
    if total > CONTRACT_MID:
        return HealthFactor(CONTRACT_VALUE, 15, Impact.NEUTRAL, detail)
    return HealthFactor(CONTRACT_VALUE, 5, Impact.NEGATIVE, detail)


def engagement_points(totals: EngagementTotals) -> Decimal:
    """Σ type weight × attendance rate × mood, unrounded (see the module docstring)."""
    points = Decimal(sum(TYPE_WEIGHTS.get(kind, 1) * n for kind, n in totals.count_by_type.items()))
    if totals.participants:
        points = points * Decimal(totals.attended) / Decimal(totals.participants)
    if totals.average_sentiment is not None:
        points = points * (1 + Decimal(str(totals.average_sentiment)) / 2)
    return points


def engagement_factor(totals: EngagementTotals) -> HealthFactor:
    score = min(FACTOR_MAX, max(0, _half_up(engagement_points(totals))))
    count = sum(totals.count_by_type.values())
    detail = f"{count} interactions in the last {ENGAGEMENT_WINDOW_DAYS} days"
    impact = Impact.POSITIVE if score > 15 else Impact.NEGATIVE if score <= 5 else Impact.NEUTRAL
    return HealthFactor(ENGAGEMENT, score, impact, detail)


def growth_score(current: Decimal, previous: Decimal) -> int:
    if previous <= 0:
        return GROWTH_NEW_BUSINESS if current > 0 else GROWTH_NO_BUSINESS
    change = (current - previous) / previous
    for threshold, score in GROWTH_BANDS:
        if change >= threshold:
            return score
    if change > Decimal("-0.05"):
        return 10  # stable
    if change > Decimal("-0.20"):
        return 5  # declining
    return 0  # falling


def growth_factor(current: Decimal, previous: Decimal) -> HealthFactor:
    score = growth_score(current, previous)
    detail = f"business {_money(current)} in the last 12 months against {_money(previous)} the 12 before"
    impact = Impact.POSITIVE if score > 10 else Impact.NEGATIVE if score <= 5 else Impact.NEUTRAL
    return HealthFactor(GROWTH, score, impact, detail)


def risk_level(score: int) -> RiskLevel:
    """≥ 70 low, 40–69 medium, below 40 high."""
    if score >= RISK_LOW_FROM:
        return RiskLevel.LOW
    if score >= RISK_MEDIUM_FROM:
        return RiskLevel.MEDIUM
    return RiskLevel.HIGH


def recommendations(inputs: HealthInputs, factors: dict[str, HealthFactor], risk: RiskLevel) -> list[str]:
    """Rules in a fixed order; see the README for the table a sales manager reads."""
    recs: list[str] = []
    if risk == RiskLevel.HIGH:
        recs.append("Health score is below 40: agree a recovery plan for this account with your manager.")
    activity = factors[RECENT_ACTIVITY]
    if inputs.last_activity_at is None:
        recs.append("No interaction recorded yet: call or visit the chef or the buyer this week.")
    elif activity.score == 5:
        recs.append(f"No contact for more than {ACTIVITY_STALE_DAYS} days: call or visit the chef or the buyer this week.")
    elif activity.score == 15:
        recs.append(f"No contact for more than {ACTIVITY_RECENT_DAYS} days: schedule a check-in.")
    if factors[CONTRACT_VALUE].score == 5:
        recs.append("Active contract value is 100,000 or less: propose a supply agreement covering more categories.")
    if factors[ENGAGEMENT].score <= 5:
        recs.append(f"Little engagement in the last {ENGAGEMENT_WINDOW_DAYS} days: book a meeting or a tasting "
                    "with the decision makers.")
    mood = inputs.engagement.average_sentiment
    if mood is not None and mood <= NEGATIVE_MOOD:
        recs.append("Recent conversations are negative on average: resolve open complaints (deliveries, quality, "
                    "pricing) before pitching anything new.")
    if factors[GROWTH].score <= 5:
        recs.append("Business is flat or falling year over year: review lost categories and pricing with the buyer.")
    if inputs.renewal_date is not None:
        days_left = (inputs.renewal_date - inputs.now.date()).days
        if 0 <= days_left <= RENEWAL_HORIZON_DAYS:
            recs.append(f"Renewal due on {inputs.renewal_date.isoformat()} ({days_left} days): start the renewal "
                        "conversation now.")
    if not recs:
        recs.append("Healthy account: ask for a referral or a sister location, and offer categories they do not buy yet.")
    return recs


def assess(inputs: HealthInputs) -> AccountHealth:
    factors = [
        recent_activity_factor(inputs.now, inputs.last_activity_at),
        contract_value_factor(inputs.active_contract_value),
        engagement_factor(inputs.engagement),
        growth_factor(inputs.business_last_12_months, inputs.business_previous_12_months),
    ]
    score = min(100, sum(f.score for f in factors))
    risk = risk_level(score)
    return AccountHealth(score, factors, risk, recommendations(inputs, {f.name: f for f in factors}, risk))
