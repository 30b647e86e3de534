"""Sentiment of an interaction note: VADER's compound score on subject and description, and its label.

VADER (vaderSentiment, lexicon shipped with the package, works offline) gives a compound score
from −1 (most negative) to +1 (most positive). The label uses a neutral band of ±0.30 rather than
VADER's customary ±0.05: a single negation word scores −0.296 on its own ("No reply yet", "no
decision yet", "no issues reported"), and such routine notes must stay neutral.
"""

from __future__ import annotations

from enum import Enum

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_THRESHOLD = 0.30
NEGATIVE_THRESHOLD = -0.30

# Loading the lexicon takes a few milliseconds: once per process.
_analyzer = SentimentIntensityAnalyzer()


class SentimentLabel(str, Enum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


def note_text(subject: str | None, description: str | None) -> str:
    """Subject and description as one text, the subject read as the first sentence."""
    parts = [p.strip().rstrip(".") for p in (subject, description) if p and p.strip()]
    return ". ".join(parts)


def sentiment_score(subject: str | None, description: str | None) -> float:
    """VADER compound score of the note, rounded to 4 places; 0.0 for an empty note."""
    text = note_text(subject, description)
    if not text:
        return 0.0
    return round(float(_analyzer.polarity_scores(text)["compound"]), 4)


def sentiment_label(score: float) -> SentimentLabel:
    """≥ +0.30 positive, ≤ −0.30 negative, anything between neutral."""
    if score >= POSITIVE_THRESHOLD:
        return SentimentLabel.POSITIVE
    if score <= NEGATIVE_THRESHOLD:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL
