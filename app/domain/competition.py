"""Competitive intelligence rules: threat level, positioning, recommendations, win probability.

Pure functions over plain values. Every rule a sales manager might ask about is written out in
the docstring of the function that applies it (and in the README, "Competitive intelligence").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Iterable, Sequence

from app.domain.enums import Pricing, StageKind


class ThreatLevel(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


MEDIUM_THREAT_SCORE = Decimal(3)
HIGH_THREAT_SCORE = Decimal(5)
STRENGTH_POINTS = Decimal("0.5")
SCORE_PLACES = Decimal("0.1")  # scores are shown with one decimal: 4.5, 6.0
# Our record against a competitor only counts once this many of the deals they were on have closed.
MIN_CLOSED_DEALS = 5
# Open stages at or above this probability are "late" (proposal, negotiation in the default pipeline).
LATE_STAGE_PROBABILITY = 60
LARGE_DEAL_VALUE = Decimal("25000")
CROWDED_DEAL_COMPETITORS = 3
POOR_RECORD_WIN_RATE = Fraction(2, 5)
WIN_PROBABILITY_PENALTY = {ThreatLevel.HIGH: 10, ThreatLevel.MEDIUM: 5, ThreatLevel.LOW: 0}
MAX_WIN_PROBABILITY_PENALTY = 30


@dataclass(frozen=True)
class CompetitorProfile:
    name: str
    pricing: Pricing
    market_share: Decimal
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()
    incumbent_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackRecord:
    """Our closed deals on which this competitor was recorded."""

    won: int = 0
    lost: int = 0

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> Fraction | None:
        return Fraction(self.won, self.closed) if self.closed else None


def win_rate(won: int, lost: int) -> Decimal | None:
    """won / (won + lost) as a Decimal to four places (0.3333); None before anything closed."""
    closed = won + lost
    return (Decimal(won) / closed).quantize(Decimal("0.0001")) if closed else None


@dataclass(frozen=True)
class DealContext:
    """What the rules need to know about the opportunity."""

    stage_name: str
    stage_kind: StageKind
    stage_probability: int
    probability: int
    value: Decimal
    product_categories: frozenset[str] = frozenset()
    has_lost_reason: bool = False

    @property
    def is_open(self) -> bool:
        return self.stage_kind == StageKind.OPEN

    @property
    def is_late(self) -> bool:
        return self.is_open and self.stage_probability >= LATE_STAGE_PROBABILITY

    @property
    def is_large(self) -> bool:
        return self.value >= LARGE_DEAL_VALUE


@dataclass(frozen=True)
class Threat:
    base_score: Decimal
    adjustment: Decimal
    score: Decimal
    level: ThreatLevel
    factors: tuple[str, ...]


@dataclass(frozen=True)
class CompetitorAssessment:
    profile: CompetitorProfile
    record: TrackRecord
    threat: Threat
    positioning: str
    has_battlecards: bool


@dataclass(frozen=True)
class Analysis:
    competitors: tuple[CompetitorAssessment, ...]
    recommendations: tuple[str, ...]
    win_probability: int


@dataclass(frozen=True)
class CompetitorInput:
    profile: CompetitorProfile
    record: TrackRecord = field(default_factory=TrackRecord)
    has_battlecards: bool = False


def _num(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _percent(value: Decimal | Fraction) -> str:
    """A share as a whole percentage, rounded half up."""
    return f"{(Fraction(value) * 100 + Fraction(1, 2)) // 1}%"


def _names(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# Threat ------------------------------------------------------------------------------------


def base_threat_score(profile: CompetitorProfile) -> tuple[Decimal, tuple[str, ...]]:
    """The product spec's score, with the reason for each part.

    - market share > 0.3: 3 points; > 0.1: 2; otherwise 1 (exactly 0.3 gives 2, exactly 0.1 gives 1);
    - pricing lower than ours: +2; competitive: +1; higher: +0;
    - +0.5 per listed strength.
    """
    share = Decimal(profile.market_share)
    if share > Decimal("0.3"):
        share_points, rule = 3, "> 30%"
    elif share > Decimal("0.1"):
        share_points, rule = 2, "> 10%"
    else:
        share_points, rule = 1, "≤ 10%"
    pricing = Pricing(profile.pricing)
    price_points = {Pricing.LOWER: 2, Pricing.COMPETITIVE: 1, Pricing.HIGHER: 0}[pricing]
    strength_points = STRENGTH_POINTS * len(profile.strengths)
    factors = (
        f"market share {_percent(share)} ({rule}): +{share_points}",
        f"pricing {pricing.value}: +{price_points}",
        f"{len(profile.strengths)} strengths × 0.5: +{_num(strength_points)}",
    )
    return (Decimal(share_points + price_points) + strength_points).quantize(SCORE_PLACES), factors


def threat_level(score: Decimal) -> ThreatLevel:
    """score ≥ 5: high; ≥ 3: medium; otherwise low."""
    if score >= HIGH_THREAT_SCORE:
        return ThreatLevel.HIGH
    if score >= MEDIUM_THREAT_SCORE:
        return ThreatLevel.MEDIUM
    return ThreatLevel.LOW


def record_adjustment(record: TrackRecord) -> tuple[int, str]:
    """How our own record against the competitor moves the threat score.

    Counted only once at least MIN_CLOSED_DEALS (5) deals they were on have closed (won or lost);
    before that the adjustment is 0. Then, by our win rate against them:
    < 25 %: +2; 25 % to < 40 %: +1; 40 % to 60 %: 0; > 60 % to 75 %: −1; > 75 %: −2.
    """
    if record.closed < MIN_CLOSED_DEALS:
        return 0, (f"{record.closed} closed deals against them (fewer than {MIN_CLOSED_DEALS}): "
                   "no adjustment for our record")
    rate = Fraction(record.won, record.closed)
    if rate < Fraction(1, 4):
        points = 2
    elif rate < Fraction(2, 5):
        points = 1
    elif rate <= Fraction(3, 5):
        points = 0
    elif rate <= Fraction(3, 4):
        points = -1
    else:
        points = -2
    sign = "+" if points >= 0 else "−"
    return points, (f"we won {record.won} of {record.closed} closed deals against them "
                    f"({_percent(rate)}): {sign}{abs(points)}")


def assess_threat(profile: CompetitorProfile, record: TrackRecord = TrackRecord()) -> Threat:
    """Base score plus the record adjustment, never below 0; the level comes from the adjusted score."""
    base, factors = base_threat_score(profile)
    adjustment, reason = record_adjustment(record)
    score = max(Decimal(0), base + adjustment).quantize(SCORE_PLACES)
    return Threat(base, Decimal(adjustment).quantize(SCORE_PLACES), score, threat_level(score), factors + (reason,))


# Positioning -------------------------------------------------------------------------------


def positioning(profile: CompetitorProfile, deal: DealContext) -> str:
    """How to position against one competitor on this deal, in up to three sentences.

    1. By their pricing:
       - lower: sell landed cost (fill rate, on-time delivery, yield, waste), never match case for
         case; on a large deal (value ≥ 25,000) offer volume tiers or a fixed-price period on the
         top items instead of a blanket discount;
       - higher: we are the cheaper option: put a side-by-side price comparison in the proposal;
       - competitive: prices are close: win on service (delivery windows, rep continuity, chef support).
    2. If they have weaknesses: press on the first two.
    3. If they have strengths: do not fight on the first (their main) strength; reframe it.
    """
    pricing = Pricing(profile.pricing)
    if pricing == Pricing.LOWER:
        lead = ("They sell on price: do not match them case for case; sell landed cost "
                "(fill rate, on-time delivery, yield and waste).")
        if deal.is_large:
            lead += " On a deal this size offer volume tiers or a fixed-price period on the top items, not a blanket discount."
    elif pricing == Pricing.HIGHER:
        lead = "We are the cheaper option: put a side-by-side price comparison in the proposal."
    else:
        lead = "Prices are close: win on service (delivery windows, rep continuity, chef support)."
    sentences = [lead]
    if profile.weaknesses:
        sentences.append(f"Press where they are weak: {'; '.join(profile.weaknesses[:2])}.")
    if profile.strengths:
        sentences.append(f"Do not fight them on {profile.strengths[0]}; reframe it around the customer's priorities.")
    return " ".join(sentences)


# Recommendations ---------------------------------------------------------------------------


def _closed_recommendations(deal: DealContext, names: list[str]) -> list[str]:
    against = f" against {_names(names)}" if names else ""
    if deal.stage_kind == StageKind.WON:
        return [f"Closed won{against}: note what won it so the battlecards learn from it."]
    if not deal.has_lost_reason:
        return [f"Closed lost{against} with no lost reason: record why, so the win/loss report can learn from it."]
    return [f"Closed lost{against}: compare the lost reason with the battlecards and update them."]


def recommendations(deal: DealContext, assessments: Sequence[CompetitorAssessment]) -> list[str]:
    """Opportunity-level advice; each rule below adds at most one line per competitor, in this order.

    Closed opportunities get one line: won → note what won it; lost without a lost reason →
    record it; lost with a reason → compare it with the battlecards. For open opportunities:

    1. No competitor recorded → ask who supplies them today and who else is quoting.
    2. Each high threat → review its battlecard with your manager before the next meeting
       (or, without a battlecard, ask a manager to write one).
    3. Late stage (stage probability ≥ 60 %) and a competitor with lower pricing → lead the
       proposal with landed cost and agree any discount with your manager now.
    4. Early stage (stage probability < 60 %) with competitors → shape the buying criteria around
       their weaknesses (or, when none are known, find out what the buyer dislikes about them).
    5. A competitor is the incumbent in a product category on the deal → trial order or
       side-by-side tasting to lower the switching risk.
    6. Large deal (value ≥ 25,000) with a medium or high threat → multi-thread (chef, GM,
       purchasing) and bring a reference from a similar account.
    7. Three or more competitors → confirm decision criteria and timeline before investing more.
    8. Our record against a competitor is poor (≥ 5 closed deals, win rate < 40 %) → read the
       lost reasons in the win/loss report before the next call.
    """
    names = [a.profile.name for a in assessments]
    if not deal.is_open:
        return _closed_recommendations(deal, names)
    if not assessments:
        return ["No competitor recorded: ask the buyer who supplies them today and who else is quoting."]
    lines: list[str] = []
    for a in assessments:
        if a.threat.level == ThreatLevel.HIGH:
            if a.has_battlecards:
                lines.append(f"High threat from {a.profile.name} (score {_num(a.threat.score)}): "
                             "review their battlecard with your manager before the next meeting.")
            else:
                lines.append(f"High threat from {a.profile.name} and no battlecard yet: ask a manager to write one.")
    cheaper = [a.profile.name for a in assessments if Pricing(a.profile.pricing) == Pricing.LOWER]
    if deal.is_late and cheaper:
        lines.append(f"{_names(cheaper)} {'undercuts' if len(cheaper) == 1 else 'undercut'} us on price at the "
                     f"{deal.stage_name} stage: lead the proposal with landed cost and agree any discount "
                     "with your manager now, not on the last call.")
    if not deal.is_late:
        weaknesses = [w for a in assessments for w in a.profile.weaknesses[:1]]
        if weaknesses:
            lines.append(f"Early stage: shape the buying criteria around where {_names(names)} "
                         f"{'is' if len(names) == 1 else 'are'} weak ({'; '.join(weaknesses)}).")
        else:
            lines.append(f"Early stage: find out what the buyer dislikes about {_names(names)} today.")
    for a in assessments:
        incumbent = sorted(set(a.profile.incumbent_categories) & deal.product_categories)
        if incumbent:
            lines.append(f"{a.profile.name} is the incumbent for {_names([c.replace('_', ' ') for c in incumbent])}: "
                         "propose a trial order or a side-by-side tasting to lower the switching risk.")
    if deal.is_large and any(a.threat.level != ThreatLevel.LOW for a in assessments):
        lines.append(f"Large deal ({_num(deal.value)}) against {len(assessments)} "
                     f"competitor{'s' if len(assessments) > 1 else ''}: multi-thread beyond the main contact "
                     "(chef, GM, purchasing) and bring a reference from a similar account.")
    if len(assessments) >= CROWDED_DEAL_COMPETITORS:
        lines.append(f"{len(assessments)} competitors on one deal: confirm the decision criteria and timeline "
                     "before investing more.")
    for a in assessments:
        if a.record.closed >= MIN_CLOSED_DEALS and (rate := Fraction(a.record.won, a.record.closed)) < POOR_RECORD_WIN_RATE:
            lines.append(f"We win only {_percent(rate)} against {a.profile.name} ({a.record.won} of "
                         f"{a.record.closed} closed deals): read the lost reasons in the win/loss report "
                         "before the next call.")
    return lines


# Win probability ---------------------------------------------------------------------------


def win_probability(deal: DealContext, levels: Iterable[ThreatLevel]) -> int:
    """Our chance of winning, in percent.

    Closed won: 100; closed lost: 0. Open: the opportunity's probability minus 10 points per
    high-threat and 5 per medium-threat competitor (low: 0), the deduction capped at 30 points
    and the result never below 0.
    """
    if deal.stage_kind == StageKind.WON:
        return 100
    if deal.stage_kind == StageKind.LOST:
        return 0
    penalty = min(MAX_WIN_PROBABILITY_PENALTY, sum(WIN_PROBABILITY_PENALTY[level] for level in levels))
    return max(0, deal.probability - penalty)


def analyse(deal: DealContext, competitors: Sequence[CompetitorInput]) -> Analysis:
    """The whole competitive analysis of one opportunity, competitors in the order given."""
    assessments = tuple(
        CompetitorAssessment(c.profile, c.record, assess_threat(c.profile, c.record), positioning(c.profile, deal),
                             c.has_battlecards)
        for c in competitors
    )
    return Analysis(
        competitors=assessments,
        recommendations=tuple(recommendations(deal, assessments)),
        win_probability=win_probability(deal, (a.threat.level for a in assessments)),
    )
