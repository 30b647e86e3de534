"""How a text stops naming an erased contact (app.domain.personal_data)."""

from app.domain.personal_data import REDACTED, PersonalData, erased_fields, is_anonymised, redact, redact_json

PERSON = PersonalData("Zoë", "Quill", "Zoe.Quill@Example.com", "+1 (555) 010-7788")


def test_every_spelling_of_a_mention_is_redacted():
    pattern = PERSON.pattern()
    assert redact("Met zoë QUILL and her team", pattern) == f"Met {REDACTED} and her team"
    assert redact("Zoë  Quill\nsigned", pattern) == f"{REDACTED}\nsigned"
    assert redact("write to zoe.quill@example.COM today", pattern) == f"write to {REDACTED} today"
    for phone in ("555-010-7788", "(555) 010 7788", "5550107788", "+15550107788", "555.010.7788"):
        assert redact(f"call {phone}.", pattern) == f"call {REDACTED}.", phone


def test_only_whole_words_and_whole_numbers_are_redacted():
    pattern = PERSON.pattern()
    assert redact("Quillfeather and Zoëlle stay; order 15550107788999 too", pattern) == \
        "Quillfeather and Zoëlle stay; order 15550107788999 too"


def test_json_values_are_redacted_throughout():
    pattern = PERSON.pattern()
    assert redact_json({"title": "Call Zoë", "n": 3, "tags": ["quill", None]}, pattern) == \
        {"title": f"Call {REDACTED}", "n": 3, "tags": [REDACTED, None]}


def test_short_names_and_phones_alone_are_not_looked_for():
    person = PersonalData("Al", "B", None, "0100")
    assert redact("Al B called; Al left; ticket 0100", person.pattern()) == f"{REDACTED} called; {REDACTED} left; ticket 0100"
    assert PersonalData("", "", None, "").pattern() is None


def test_an_erased_contact_holds_only_the_markers():
    assert is_anonymised(erased_fields())
    assert not is_anonymised({**erased_fields(), "email": "new@example.com"})
