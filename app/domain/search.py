"""Search rules: what a query means, how a field's text is compared with it, and how hits are ranked.

PostgreSQL applies the same rule in SQL (pg_trgm and word indexes, app/queries/search.py); SQLite, which
has no trigram similarity, finds candidates with FTS5 and matches and scores them here. The rule:

- The query is trimmed, lower-cased and its whitespace collapsed; it must keep at least 2 characters
  (at most 200). `first` is 1..100 (default 20).
- Text fields are compared on trigrams as pg_trgm makes them: each run of letters and digits, lower-cased,
  padded with two spaces in front and one behind, cut into every 3 consecutive characters.
  `similarity(q, f)` = shared trigrams / all trigrams of both (Jaccard); `word_similarity(q, f)` = the best
  `similarity` between q's trigrams and any contiguous stretch of f's trigrams (so "bag" against
  "Bagel Barn" is 0.75, and a whole word or name inside a longer field is 1).
- A field matches when every word of the query (a run of letters and digits) matches one of the field's
  words: a near spelling, trigram similarity ≥ 0.3 ("restaurnt" → "Restaurant", "stakehouse" →
  "Steakhouse", "co" → "Co"); and for a query word of 3 characters or more also a field word it starts
  ("bag" → "Bagel") or with word similarity ≥ 0.5 ("jon" → "John"). (A shorter word would match every
  word that starts like it: "co" does not find every "contract".) Words past the eighth are not
  matched (they still count in the score). So "harbr grill 4821" finds "Harbor Grill #4821" (and #4820, #14821: near
  numbers), not every Harbor Grill.
- A matching field's score is the mean of the whole query's similarity and word similarity to the whole
  field, so an exact field (1.0) ranks above a field that merely contains the query (word 1.0,
  whole-field lower), and a closer spelling above a vaguer one.
- Phone numbers are compared on digits only, when the query has no letters and at least 3 digits:
  a phone whose digits contain the query's matches with score 0.5 + 0.5 × (query digits / phone digits),
  so "555 0100" finds "(555) 010-0" and an exact number scores 1.
- A record's score is its best matching field's (that field is `matchedField`), rounded to 4 places
  (halves away from zero). Hits are
  ordered by score, highest first, then by type (account, contact, opportunity, product), then by id.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from app.domain.errors import ErrorCode, ValidationFailed

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 200
DEFAULT_FIRST = 20
MAX_FIRST = 100
MAX_QUERY_WORDS = 8               # words past the eighth only count for the score
MIN_PREFIX = 3                   # a query word this long also matches the words it starts
WORD_TYPO_SIMILARITY = 0.3       # similarity(query word, field word): pg_trgm's `%` at this threshold
WORD_PART_SIMILARITY = 0.5       # word_similarity(query word, field word): pg_trgm's `<%` at this threshold
MIN_PHONE_DIGITS = 3
SCORE_PLACES = 4


class SearchType(str, Enum):
    """The record types search covers, in the order that breaks ties between equal scores."""

    ACCOUNT = "account"
    CONTACT = "contact"
    OPPORTUNITY = "opportunity"
    PRODUCT = "product"


TYPE_ORDER = {t: i for i, t in enumerate(SearchType)}

_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, as pg_trgm splits words
_NOT_DIGIT = re.compile(r"\D")
_PHONE_PUNCTUATION = re.compile(r"[\s+().\-/]")


@dataclass(frozen=True)
class SearchQuery:
    text: str           # normalised: what text fields are compared with
    phone_digits: str   # the digits to look for in phone numbers ("" when the query is no phone number)
    first: int
    types: tuple[SearchType, ...]


def normalize(text: str) -> str:
    """Lower-cased (Unicode case folding kept simple: str.lower, as SQL lower()), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def digits_only(text: str) -> str:
    return _NOT_DIGIT.sub("", text)


def phone_digits_of_query(text: str) -> str:
    """The digits a phone number must contain, or "" when the query is not a phone number (letters, or
    fewer than 3 digits)."""
    if _PHONE_PUNCTUATION.sub("", text).isdigit():
        digits = digits_only(text)
        return digits if len(digits) >= MIN_PHONE_DIGITS else ""
    return ""


def parse_query(query: str, first: int | None, types: list[SearchType] | None) -> SearchQuery:
    """The search a client asked for; ValidationFailed (field `query` or `first`) when it cannot run."""
    text = normalize(query)
    if len(text) < MIN_QUERY_LENGTH:
        raise ValidationFailed.single("query", f"must be at least {MIN_QUERY_LENGTH} characters (spaces aside)",
                                      ErrorCode.OUT_OF_RANGE)
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed.single("query", f"must be at most {MAX_QUERY_LENGTH} characters", ErrorCode.OUT_OF_RANGE)
    size = DEFAULT_FIRST if first is None else first
    if not 1 <= size <= MAX_FIRST:
        raise ValidationFailed.single("first", f"must be between 1 and {MAX_FIRST}", ErrorCode.OUT_OF_RANGE)
    wanted = tuple(t for t in SearchType if types is None or t in types)
    return SearchQuery(text, phone_digits_of_query(text), size, wanted)


# Trigrams, as pg_trgm computes them -------------------------------------------------------------


def trigram_sequence(text: str) -> list[str]:
    """Every trigram of every word, in order (duplicates kept: word_similarity needs the order)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        out.extend(padded[i:i + 3] for i in range(len(padded) - 2))
    return out


def trigrams(text: str) -> set[str]:
    return set(trigram_sequence(text))


def similarity(query: str, text: str) -> float:
    a, b = trigrams(query), trigrams(text)
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def word_similarity(query: str, text: str) -> float:
    """The best similarity between the query's trigrams and a contiguous stretch of the text's."""
    q = trigrams(query)
    sequence = trigram_sequence(text)
    if not q or not sequence:
        return 0.0
    best = 0.0
    starts = [i for i, t in enumerate(sequence) if t in q]  # a best stretch begins and ends on a shared trigram
    for i in starts:
        seen: set[str] = set()
        shared = 0
        for t in sequence[i:]:
            if t not in seen:
                seen.add(t)
                shared += t in q
            if t in q:
                best = max(best, shared / (len(q) + len(seen) - shared))
    return best


# Words ---------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The words of a normalised text, each once, in order (runs of letters and digits)."""
    return list(dict.fromkeys(_WORD.findall(text.lower())))


def query_words(query: str) -> list[str]:
    """The words a field must match: the query's first MAX_QUERY_WORDS (each costs a look-up)."""
    return words(query)[:MAX_QUERY_WORDS]


def word_matches(query_word: str, field_word: str) -> bool:
    """A near spelling (trigram similarity); for a query word of MIN_PREFIX characters or more also the
    start of the field word or a word similarity (a word of one or two characters would match every
    word that starts like it)."""
    if similarity(query_word, field_word) >= WORD_TYPO_SIMILARITY:
        return True
    return len(query_word) >= MIN_PREFIX and (
        field_word.startswith(query_word) or word_similarity(query_word, field_word) >= WORD_PART_SIMILARITY)


def field_matches(query_words: list[str], text: str) -> bool:
    """Every query word matches a word of the field (and there is at least one query word)."""
    field_words = words(text)
    return bool(query_words) and all(any(word_matches(w, v) for v in field_words) for w in query_words)


# Scores -------------------------------------------------------------------------------------------


def rounded(score: float) -> float:
    """To SCORE_PLACES, halves away from zero (as PostgreSQL's round(numeric))."""
    return float(Decimal(repr(score)).quantize(Decimal(1).scaleb(-SCORE_PLACES), ROUND_HALF_UP))


def text_score(query: str, text: str | None) -> float:
    """A text field's score for a normalised query: 0 when it does not match."""
    if not text or not field_matches(query_words(query), text):
        return 0.0
    return rounded((similarity(query, text) + word_similarity(query, text)) / 2)


def phone_score(query_digits: str, phone: str | None) -> float:
    digits = digits_only(phone or "")
    if not query_digits or not digits or query_digits not in digits:
        return 0.0
    return rounded(0.5 + 0.5 * len(query_digits) / len(digits))


def best_field(scores: dict[str, float]) -> tuple[str, float] | None:
    """The field a record matched on (the first listed among equals) with its score; None: no match."""
    field, score = max(scores.items(), key=lambda kv: kv[1], default=(None, 0.0))
    return (field, score) if field is not None and score > 0 else None


def rank_key(score: float, type_: SearchType, pk: int) -> tuple[float, int, int]:
    """Sort key of a hit: best score first, then type order, then id."""
    return (-score, TYPE_ORDER[type_], pk)
