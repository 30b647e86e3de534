"""Why an open deal needs a manager's attention: the reasons of the at-risk list."""

from __future__ import annotations

from enum import Enum

from app.domain.interactions import NEGATIVE_SENTIMENT, SENTIMENT_DROP

# The sentiment of an account is read over this many days, against the same span before it.
SENTIMENT_WINDOW_DAYS = 30


class RiskReason(str, Enum):
    STALE = "stale"  # Opportunity.isStale
    OVERDUE = "overdue"  # open past its expected close date
    NEGATIVE_SENTIMENT = "negative_sentiment"  # the account's conversations are negative or souring
    HIGH_THREAT_COMPETITOR = "high_threat_competitor"  # a competitor on the deal assessed HIGH


def sentiment_at_risk(current: float | None, previous: float | None) -> bool:
    """The account's interactions over the last window average NEGATIVE_SENTIMENT or below, or fell by
    SENTIMENT_DROP or more against the window before (the thresholds interaction insights recommend on)."""
    if current is None:
        return False
    if current <= NEGATIVE_SENTIMENT:
        return True
    return previous is not None and current - previous <= -SENTIMENT_DROP
