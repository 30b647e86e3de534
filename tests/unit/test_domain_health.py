"""Account health (app.domain.health), pure: the four factors at their boundaries, the risk level and the
recommendations."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.domain import health as h

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("ago, score, impact", [
    (timedelta(0), 25, h.Impact.POSITIVE),
    (timedelta(days=7), 25, h.Impact.POSITIVE),
    (timedelta(days=7, seconds=1), 15, h.Impact.NEUTRAL),
    (timedelta(days=30), 15, h.Impact.NEUTRAL),
    (timedelta(days=30, seconds=1), 5, h.Impact.NEGATIVE),
    (None, 5, h.Impact.NEGATIVE),
])
def test_recent_activity(ago, score, impact):
    factor = h.recent_activity_factor(NOW, None if ago is None else NOW - ago)
    assert (factor.name, factor.score, factor.impact) == (h.RECENT_ACTIVITY, score, impact)


@pytest.mark.parametrize("total, score", [("500000.01", 25), ("500000", 15), ("100000.01", 15), ("100000", 5), ("0", 5)])
def test_contract_value_counts_strictly_above_each_threshold(total, score):
    assert h.contract_value_factor(Decimal(total)).score == score


def test_engagement_points_weigh_types_attendance_and_mood():
    totals = h.EngagementTotals({"meeting": 2, "email": 3, "webinar": 1}, participants=4, attended=3,
                                average_sentiment=0.5)
    # (2×3 + 3×1 + 1×1 unknown type) × 3/4 attended × (1 + 0.5/2) mood
    assert h.engagement_points(totals) == Decimal("9.375")
    assert h.engagement_factor(totals).score == 9
    assert h.engagement_points(h.EngagementTotals({"phone": 2})) == 4  # no attendance, no mood recorded: × 1


@pytest.mark.parametrize("counts, score, impact", [
    ({}, 0, h.Impact.NEGATIVE),
    ({"meeting": 1, "phone": 1}, 5, h.Impact.NEGATIVE),
    ({"meeting": 2}, 6, h.Impact.NEUTRAL),
    ({"meeting": 5}, 15, h.Impact.NEUTRAL),
    ({"meeting": 5, "email": 1}, 16, h.Impact.POSITIVE),
    ({"meeting": 40}, 25, h.Impact.POSITIVE),
])
def test_engagement_is_capped_at_25_and_banded(counts, score, impact):
    factor = h.engagement_factor(h.EngagementTotals(counts))
    assert (factor.score, factor.impact) == (score, impact)


def test_engagement_rounds_half_up():
    assert h.engagement_factor(h.EngagementTotals({"email": 5}, participants=2, attended=1)).score == 3  # 2.5


@pytest.mark.parametrize("now, before, score", [
    ("0", "0", 5), ("1", "0", 25),
    ("120", "100", 25), ("119.99", "100", 18), ("105", "100", 18), ("104.99", "100", 10),
    ("95.01", "100", 10), ("95", "100", 5), ("80.01", "100", 5), ("80", "100", 0), ("0", "100", 0),
])
def test_growth_bands(now, before, score):
    assert h.growth_score(Decimal(now), Decimal(before)) == score


@pytest.mark.parametrize("score, level", [(100, h.RiskLevel.LOW), (70, h.RiskLevel.LOW), (69, h.RiskLevel.MEDIUM),
                                          (40, h.RiskLevel.MEDIUM), (39, h.RiskLevel.HIGH), (0, h.RiskLevel.HIGH)])
def test_risk_level(score, level):
    assert h.risk_level(score) is level


def _inputs(**kw: Any) -> h.HealthInputs:
    base: dict[str, Any] = dict(now=NOW, last_activity_at=NOW - timedelta(days=2), active_contract_value=Decimal("600000"),
                engagement=h.EngagementTotals({"meeting": 9}), business_last_12_months=Decimal("130"),
                business_previous_12_months=Decimal("100"))
    return h.HealthInputs(**(base | kw))


def test_a_healthy_account_scores_100_and_gets_the_growth_advice():
    health = h.assess(_inputs())
    assert (health.score, health.risk_level) == (100, h.RiskLevel.LOW)
    assert [f.name for f in health.factors] == [h.RECENT_ACTIVITY, h.CONTRACT_VALUE, h.ENGAGEMENT, h.GROWTH]
    assert len(health.recommendations) == 1 and health.recommendations[0].startswith("Healthy account")


def test_a_neglected_account_is_high_risk_with_one_line_per_problem():
    health = h.assess(_inputs(last_activity_at=None, active_contract_value=Decimal("0"),
                              engagement=h.EngagementTotals(average_sentiment=-0.6),
                              business_last_12_months=Decimal("0"), renewal_date=date(2027, 1, 10)))
    assert (health.score, health.risk_level) == (10, h.RiskLevel.HIGH)  # 5 + 5 + 0 + 0
    starts = [r.split(":")[0] for r in health.recommendations]
    assert starts == ["Health score is below 40", "No interaction recorded yet", "Active contract value is 100,000 or less",
                      "Little engagement in the last 90 days", "Recent conversations are negative on average",
                      "Business is flat or falling year over year", "Renewal due on 2027-01-10 (47 days)"]


def test_a_renewal_is_mentioned_only_within_90_days():
    assert not any("Renewal" in r for r in h.assess(_inputs(renewal_date=date(2027, 2, 23))).recommendations)
    assert any("Renewal" in r for r in h.assess(_inputs(renewal_date=date(2027, 2, 22))).recommendations)
    assert not any("Renewal" in r for r in h.assess(_inputs(renewal_date=date(2026, 11, 23))).recommendations)
