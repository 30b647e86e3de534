"""Competitive intelligence (app.domain.competition), pure: threat score and level, the record
adjustment, win probability."""

from decimal import Decimal

import pytest

from app.domain import competition as c
from app.domain.enums import Pricing, StageKind


def profile(share="0.2", pricing=Pricing.COMPETITIVE, strengths=0) -> c.CompetitorProfile:
    return c.CompetitorProfile("Sysco", pricing, Decimal(share), tuple(f"strength {i}" for i in range(strengths)))


@pytest.mark.parametrize("share, points", [("0.31", 3), ("0.3", 2), ("0.11", 2), ("0.1", 1), ("0", 1)])
def test_market_share_points_are_strictly_above_each_threshold(share, points):
    score, factors = c.base_threat_score(profile(share, Pricing.HIGHER))
    assert score == Decimal(points) and factors[0].endswith(f": +{points}")


def test_pricing_and_strengths_add_to_the_base_score():
    assert c.base_threat_score(profile("0.05", Pricing.LOWER))[0] == Decimal("3.0")
    assert c.base_threat_score(profile("0.05", Pricing.COMPETITIVE))[0] == Decimal("2.0")
    score, factors = c.base_threat_score(profile("0.35", Pricing.LOWER, strengths=3))
    assert score == Decimal("6.5") and factors[2] == "3 strengths × 0.5: +1.5"


@pytest.mark.parametrize("score, level", [("5", c.ThreatLevel.HIGH), ("4.9", c.ThreatLevel.MEDIUM),
                                          ("3", c.ThreatLevel.MEDIUM), ("2.9", c.ThreatLevel.LOW), ("0", c.ThreatLevel.LOW)])
def test_threat_level_thresholds(score, level):
    assert c.threat_level(Decimal(score)) is level


@pytest.mark.parametrize("won, lost, points", [
    (0, 4, 0), (1, 3, 0),  # fewer than 5 closed: no adjustment whatever the rate
    (0, 5, 2), (1, 9, 2), (1, 4, 2),  # below 25 %
    (2, 6, 1), (3, 7, 1),  # 25 % to below 40 %
    (2, 3, 0), (3, 2, 0),  # 40 % to 60 %
    (7, 3, -1), (6, 2, -1),  # above 60 % to 75 %
    (7, 2, -2), (4, 1, -2),  # above 75 %
])
def test_record_adjustment_by_win_rate_once_five_deals_closed(won, lost, points):
    adjustment, reason = c.record_adjustment(c.TrackRecord(won, lost))
    assert adjustment == points, reason


def test_the_adjusted_score_never_drops_below_zero_and_sets_the_level():
    strong_record = c.TrackRecord(won=9, lost=1)
    threat = c.assess_threat(profile("0.05", Pricing.HIGHER), strong_record)  # base 1, −2
    assert (threat.base_score, threat.adjustment, threat.score, threat.level) == (
        Decimal("1.0"), Decimal("-2.0"), Decimal("0.0"), c.ThreatLevel.LOW)
    threat = c.assess_threat(profile("0.2", Pricing.COMPETITIVE), c.TrackRecord(won=1, lost=9))  # base 3, +2
    assert (threat.score, threat.level) == (Decimal("5.0"), c.ThreatLevel.HIGH)
    assert len(threat.factors) == 4


def deal(kind=StageKind.OPEN, probability=60) -> c.DealContext:
    return c.DealContext("Proposal", kind, 60, probability, Decimal("10000"))


def test_win_probability_deducts_per_threat_capped_at_30_points():
    high, medium, low = c.ThreatLevel.HIGH, c.ThreatLevel.MEDIUM, c.ThreatLevel.LOW
    assert c.win_probability(deal(), [high, medium, low]) == 45
    assert c.win_probability(deal(), [high] * 4) == 30
    assert c.win_probability(deal(probability=20), [high, high, high]) == 0
    assert c.win_probability(deal(StageKind.WON), [high]) == 100
    assert c.win_probability(deal(StageKind.LOST), []) == 0


def test_win_rate_to_four_places():
    assert (c.win_rate(1, 2), c.win_rate(0, 0)) == (Decimal("0.3333"), None)
