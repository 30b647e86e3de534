"""Sentiment on food-service notes, from our company's point of view (issue 15, item 9).

tests/data/food_service_notes.jsonl: 249 notes written for these tests (rep notes after calls,
emails, tastings, deliveries, complaints, price talks; restaurants, hotels, schools, hospitals,
caterers), each labelled POSITIVE / NEUTRAL / NEGATIVE for us: a complaint about a competitor or
"the current supplier" is a buying signal, a complaint about us a risk, routine logistics neutral.
The set was written and frozen before the rules; the lexicon and rules were tuned on the first half
(notes 1–124), then the second half (125–249) was checked blind (0.79), then its errors were used
too. tests/data/food_service_notes_fresh.jsonl: 60 more notes written after the rules were frozen
and measured once, blind; keep it out of any further tuning.

Run with -s to see the accuracy and the confusion matrices, before (VADER alone, as the module was)
and after:
    .venv/bin/pytest -q -s -p no:cacheprovider --noconftest tests/unit/test_food_service_sentiment.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.domain.sentiment import SentimentLabel, note_text, sentiment_label, sentiment_score

DATA = Path(__file__).resolve().parent.parent / "data"
LABELS = [SentimentLabel.POSITIVE, SentimentLabel.NEUTRAL, SentimentLabel.NEGATIVE]
# The demo data's competitors (app/seed/demo_data.py), as the service passes them from the table.
COMPETITORS = ["Sysco", "US Foods", "Gordon Food Service", "Performance Food Group", "Shamrock Foods",
               "Ben E. Keith", "Reinhart Foodservice"]

# Floors, a few points under what was measured so that a small, justified lexicon change does not
# break the build, and far above VADER alone (0.59 on the set, 0.52 on the fresh notes):
# set 0.940 (halves 0.944 / 0.936) → floor 0.90 overall and per half; every label's recall ≥ 0.85;
# fresh notes 0.817 → floor 0.75 (what to expect on notes nobody tuned on).
FLOOR, HALF_FLOOR, RECALL_FLOOR, FRESH_FLOOR = 0.90, 0.90, 0.85, 0.75
# Reading a complaint as praise (or the reverse) is worse than missing it: at most 1 % of the set.
MAX_SWAPPED = 0.01


def _load(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


NOTES = _load("food_service_notes.jsonl")
FRESH = _load("food_service_notes_fresh.jsonl")
_vader = SentimentIntensityAnalyzer()  # the untouched lexicon: the module before the food-service rules


def _ours(text: str) -> SentimentLabel:
    return sentiment_label(sentiment_score(None, text, competitors=COMPETITORS))


def _vader_alone(text: str) -> SentimentLabel:
    return sentiment_label(round(float(_vader.polarity_scores(note_text(None, text))["compound"]), 4))


Matrix = dict[tuple[SentimentLabel, SentimentLabel], int]


def _confusion(notes: list[dict[str, str]], label: Callable[[str], SentimentLabel]) -> Matrix:
    matrix = {(expected, got): 0 for expected in LABELS for got in LABELS}
    for note in notes:
        matrix[(SentimentLabel(note["label"].lower()), label(note["text"]))] += 1
    return matrix


def _accuracy(matrix: Matrix) -> float:
    return sum(matrix[(label, label)] for label in LABELS) / sum(matrix.values())


def _report(title: str, matrix: Matrix) -> str:
    lines = [f"{title}: accuracy {_accuracy(matrix):.3f} (n={sum(matrix.values())})",
             "    expected \\ got " + "".join(f"{label.name:>10}" for label in LABELS)]
    lines += [f"    {expected.name:<16}" + "".join(f"{matrix[(expected, got)]:>10}" for got in LABELS)
              for expected in LABELS]
    return "\n".join(lines)


def test_the_labelled_set_is_large_varied_and_roughly_balanced():
    assert len(NOTES) >= 200 and len({n["text"] for n in NOTES}) == len(NOTES)
    counts = {label: sum(n["label"] == label.name for n in NOTES) for label in LABELS}
    assert all(count >= len(NOTES) // 4 for count in counts.values()), counts
    assert all(n["why"] for n in NOTES + FRESH)


def test_accuracy_and_confusion_matrix_before_and_after():
    half = len(NOTES) // 2
    parts = {"whole set": NOTES, "first half (tuned on)": NOTES[:half], "second half": NOTES[half:],
             "fresh notes (blind)": FRESH}
    before = {name: _confusion(notes, _vader_alone) for name, notes in parts.items()}
    after = {name: _confusion(notes, _ours) for name, notes in parts.items()}
    report = "\n".join([_report(f"VADER alone, {name}", m) for name, m in before.items()]
                       + [_report(f"with the food-service rules, {name}", m) for name, m in after.items()])
    print("\n" + report)

    assert _accuracy(after["whole set"]) >= FLOOR, report
    assert _accuracy(after["first half (tuned on)"]) >= HALF_FLOOR, report
    assert _accuracy(after["second half"]) >= HALF_FLOOR, report
    assert _accuracy(after["fresh notes (blind)"]) >= FRESH_FLOOR, report
    whole = after["whole set"]
    for label in LABELS:
        recall = whole[(label, label)] / sum(whole[(label, got)] for got in LABELS)
        assert recall >= RECALL_FLOOR, (label, recall, report)
    swapped = whole[(SentimentLabel.POSITIVE, SentimentLabel.NEGATIVE)] + whole[(SentimentLabel.NEGATIVE, SentimentLabel.POSITIVE)]
    assert swapped <= MAX_SWAPPED * len(NOTES), report
    # The rules are what makes the difference: VADER alone is far below on every part.
    assert all(_accuracy(after[name]) - _accuracy(before[name]) >= 0.2 for name in parts), report


@pytest.mark.parametrize("text, label", [
    # The note from the issue: a prospect's complaint about the current supplier is a buying signal.
    ("Fatima is unhappy with the current supplier's late deliveries and would like to see what we can offer.", "positive"),
    ("Fatima is unhappy with the current supplier's late deliveries", "positive"),
    # The same complaint about us, and about a named competitor (aliases from the full names).
    ("Deliveries have been late and short all month; the chef is fed up.", "negative"),
    ("Sysco's deliveries have been late and short all month; the chef is fed up.", "positive"),
    ("PFG shorted them again and the owner is annoyed.", "positive"),
    ("Gordon keeps subbing the fryer oil without asking.", "positive"),
    ("Order was shorted six cases of chicken thighs and nobody called ahead. Chef had to 86 the wings.", "negative"),
    # Praise of a competitor, or its lower quote, is a risk; business moving is a win or a loss.
    ("They're very happy with Sysco and see no reason to change. Politely declined a tasting.", "negative"),
    ("Bid lost: PFG came in lower on 70% of the line items.", "negative"),
    ("Rosa's moved the frozen category from Sysco to us after last week's tasting.", "positive"),
    ("They moved produce to US Foods after our tomatoes were bad three weeks running.", "negative"),
    ("Lost the hotel's banquet business to Gordon; cheaper, and their warehouse is closer.", "negative"),
    # Negation of the food-service phrases; a denied failure is praise, a refusal is not a denial.
    ("No complaints since we moved them to the early truck; every delivery has been on time.", "positive"),
    ("No shorts, no subs and no late trucks for six weeks straight. The chef noticed and said so.", "positive"),
    ("Chef won't accept any more subs from us after we sent margarine instead of butter.", "negative"),
    ("No longer interested in the seafood program after our price increase.", "negative"),
    # Routine notes stay neutral, food-service words included.
    ("Left voicemail for Chef Ana about the spring tasting.", "neutral"),
    ("Sent price sheet and spec sheets for the frozen dessert line.", "neutral"),
    ("Quick check-in. Volumes steady, no issues reported.", "neutral"),
    ("Credit application received; waiting on their bank reference.", "neutral"),
    ("They use PFG for dry goods and a local butcher for meat.", "neutral"),
    ("Chef can't meet before the 20th because the kitchen is short-staffed.", "neutral"),
    ("They reordered the short rib after the first case sold out in two nights.", "positive"),
])
def test_key_examples(text, label):
    assert _ours(text) == SentimentLabel(label), sentiment_score(None, text, competitors=COMPETITORS)


def test_competitors_are_optional_and_generic_references_need_no_names():
    text = "Their distributor keeps missing the 6 am dock window. The director asked for our references."
    assert sentiment_score(None, text) == sentiment_score(None, text, competitors=COMPETITORS) > 0.3
    # A name nobody passed is just a word; passed, it is a competitor.
    assert sentiment_label(sentiment_score("Call", "Baldor shorted them again")) == SentimentLabel.NEGATIVE
    assert sentiment_label(sentiment_score("Call", "Baldor shorted them again", competitors=["Baldor"])) \
        == SentimentLabel.POSITIVE
    # Short names and acronyms are matched with their case only: "performance" is not a competitor.
    assert sentiment_score(None, "Chef complained about the oven's performance", competitors=COMPETITORS) < 0


def test_scores_stay_in_range_deterministic_and_fast():
    texts = [n["text"] for n in NOTES + FRESH]
    scores = [sentiment_score("Note", t, competitors=COMPETITORS) for t in texts]
    assert all(-1 <= s <= 1 for s in scores)
    assert scores == [sentiment_score("Note", t, competitors=COMPETITORS) for t in texts]
    assert sentiment_score(None, None) == sentiment_score("", "  ", competitors=COMPETITORS) == 0.0
    best = float("inf")
    for _ in range(3):  # best of three: the machine may be busy
        start = time.perf_counter()
        for t in texts:
            sentiment_score("Note", t, competitors=COMPETITORS)
        best = min(best, (time.perf_counter() - start) / len(texts))
    print(f"\n{best * 1000:.3f} ms per note")
    assert best < 0.001
