"""Personal data of a contact: what erasing one leaves behind, and how a text stops naming them.

Erasure anonymises instead of deleting: the contact row stays (its interactions, participations and
deal links still count in reports) with these marker values, and every text that named the person has
the name, e-mail address and phone number replaced by `REDACTED`. Pure rules; the places they are
applied to are listed in app/services/personal_data.py (`SCRUB_PLACES`).

Matching is deliberately generous, since a missed mention is the costly mistake: case-insensitive; a
name (full, first or last) as a whole word; the e-mail address anywhere; the phone number by its
digits, whatever punctuation or spacing was typed between them. A first name shared with someone else
is redacted too where it appears in the places scanned (the contact's account and deals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "contact"
REDACTED = "[erased]"
# A phone is matched by its digits only when it has this many: fewer would match order numbers.
MIN_PHONE_DIGITS = 7
# A phone's last ten digits are the number; digits before them (a country code) may be left out in a text.
NATIONAL_DIGITS = 10
_SEPARATED = r"[\s().\-/]*"
# Shorter names are matched only as part of the full name ("Al" alone would hit too much to be a rule).
MIN_NAME_LENGTH = 2


@dataclass(frozen=True)
class PersonalData:
    """What identifies the person: their name, e-mail address and phone number as stored."""

    first_name: str
    last_name: str
    email: str | None
    phone: str

    def pattern(self) -> re.Pattern[str] | None:
        """One case-insensitive pattern for every mention; None when there is nothing to look for."""
        alternatives: list[str] = []
        full = f"{self.first_name} {self.last_name}".strip()
        names = [full, self.last_name, self.first_name]
        for name in sorted({n.strip() for n in names if len(n.strip()) >= MIN_NAME_LENGTH}, key=len, reverse=True):
            # Whole words: spaces in a name match any run of whitespace.
            alternatives.append(r"(?<!\w)" + r"\s+".join(re.escape(part) for part in name.split()) + r"(?!\w)")
        if self.email and self.email.strip():
            alternatives.insert(0, re.escape(self.email.strip()))
        digits = re.sub(r"\D", "", self.phone or "")
        if len(digits) >= MIN_PHONE_DIGITS:
            # "+1 (555) 010-0199", "555.010.0199", "5550100199": any punctuation or spaces between digits,
            # and whatever comes before the last ten digits (a country code) may be left out.
            prefix, core = digits[:-NATIONAL_DIGITS], digits[-NATIONAL_DIGITS:]
            lead = rf"(?:\+?{_SEPARATED.join(prefix)}{_SEPARATED})?" if prefix else r"\+?"
            alternatives.insert(0, rf"(?<!\d){lead}\(?{_SEPARATED.join(core)}(?!\d)")
        if not alternatives:
            return None
        return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)

    def search_terms(self) -> list[str]:
        """Substrings a text naming the person contains at least one of (a cheap SQL prefilter: every
        match of `pattern` contains one of them, save a phone typed with punctuation, see `phone_tail`)."""
        terms = [t.strip() for t in (self.first_name, self.last_name, self.email or "") if len(t.strip()) >= MIN_NAME_LENGTH]
        tail = phone_tail(self.phone)
        if tail:
            terms.append(tail)
        return list(dict.fromkeys(terms))


def phone_tail(phone: str | None) -> str | None:
    """The last four digits of a phone long enough to be matched: written without punctuation in any
    spelling of the number people use ("010-0199", "0100199")."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= MIN_PHONE_DIGITS else None


def redact(text: str, pattern: re.Pattern[str] | None) -> str:
    """The text with every mention replaced by REDACTED."""
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def redact_json(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """A JSON value with every string in it (keys included) redacted."""
    if isinstance(value, str):
        return redact(value, pattern)
    if isinstance(value, list):
        return [redact_json(v, pattern) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), pattern): redact_json(v, pattern) for k, v in value.items()}
    return value


def erased_fields() -> dict[str, Any]:
    """The contact's own fields after erasure: a marker name, nothing else that could identify them."""
    return {"first_name": ERASED_FIRST_NAME, "last_name": ERASED_LAST_NAME, "email": None, "phone": "", "title": ""}


def is_anonymised(values: dict[str, Any]) -> bool:
    """Whether a contact's fields hold the markers only (erasing it again would change nothing)."""
    return all(values.get(name) == value for name, value in erased_fields().items())
