"""The pure rules of the Idempotency-Key header (app/domain/idempotency.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.domain.idempotency import (
    ABANDONED_AFTER,
    RETENTION,
    Decision,
    StoredClaim,
    decide,
    is_replayable,
    parse_key,
    request_fingerprint,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_keys_are_bare_or_quoted_printable_ascii():
    assert parse_key(" 4f1c-aa ") == "4f1c-aa"
    assert parse_key('"4f1c-aa"') == "4f1c-aa"
    assert parse_key("x" * 255) == "x" * 255
    assert [parse_key(k) for k in ("", '""', "x" * 256, "two words", "clé")] == [None] * 5


def test_the_same_request_is_the_same_document_operation_and_variables():
    base = request_fingerprint("mutation { a }", None, {"x": 1, "y": 2})
    assert base == request_fingerprint("mutation { a }", None, {"y": 2, "x": 1})
    assert base == request_fingerprint("mutation { a }", None, {"x": 1, "y": 2})
    assert base != request_fingerprint("mutation { a }", None, {"x": 1, "y": 3})
    assert base != request_fingerprint("mutation { a }", "A", {"x": 1, "y": 2})
    assert request_fingerprint("mutation { a }", None, None) == request_fingerprint("mutation { a }", None, {})


def test_what_happens_to_a_request_whose_key_is_taken():
    done = StoredClaim("h1", NOW - timedelta(hours=1), completed=True)
    running = StoredClaim("h1", NOW - timedelta(seconds=5), completed=False)
    assert decide(done, "h1", NOW) is Decision.REPLAY
    assert decide(done, "h2", NOW) is Decision.REFUSE_REUSED
    assert decide(running, "h1", NOW) is Decision.REFUSE_IN_PROGRESS
    assert decide(running, "h2", NOW) is Decision.REFUSE_REUSED
    abandoned = StoredClaim("h1", NOW - ABANDONED_AFTER, completed=False)
    assert decide(abandoned, "h1", NOW) is Decision.TAKE_OVER
    expired = StoredClaim("h1", NOW - RETENTION, completed=True)
    assert decide(expired, "h2", NOW) is Decision.TAKE_OVER


def test_only_final_answers_are_replayed():
    assert is_replayable(200, {"data": {"createAccount": {"account": {"id": "1"}, "errors": []}}})
    assert is_replayable(200, {"data": {"createAccount": {"account": None, "errors": [{"code": "REQUIRED"}]}}})
    assert is_replayable(200, {"data": None, "errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]})
    assert not is_replayable(200, {"data": None, "errors": [{"message": "x", "extensions": {"code": "UNAUTHENTICATED"}}]})
    assert not is_replayable(200, {"data": None, "errors": [{"message": "Unexpected error."}]})
    assert not is_replayable(503, {"data": None, "errors": [{"message": "down", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]})
    assert not is_replayable(500, {"data": {"a": 1}})
    assert not is_replayable(200, None)
