"""Rules of the `Idempotency-Key` header: which requests it applies to, when two requests are "the
same", how long a stored response is replayed and which responses are worth replaying.

A mutation sent with a key runs at most once per caller and key within `RETENTION`; a retry with the
same key and the same request gets the first response again, a different request with the key is
refused. Pure: the HTTP plumbing lives in app/api/idempotency.py, the storage in
app/services/idempotency.py."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"

# How long a response is kept and replayed (the contract promises 24 hours).
RETENTION = timedelta(hours=24)
# A claim whose request never finished (the process died) may be taken over after this long.
# Longer than any request may run, so a slow request is never executed twice.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255

# Failures that say nothing about the mutation's effect: the retry must run it (again).
RETRYABLE_ERROR_CODES = frozenset({
    "UNAUTHENTICATED", "TOKEN_EXPIRED", "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR", "RATE_LIMITED",
    "IDEMPOTENCY_KEY_IN_PROGRESS",
})


class KeyProblem(str, Enum):
    """Why a request with a key is refused instead of executed or replayed."""

    INVALID = "IDEMPOTENCY_KEY_INVALID"  # 400: empty, too long or not printable ASCII
    REUSED = "IDEMPOTENCY_KEY_REUSED"  # 422: the key came with a different request before
    IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS"  # 409: the first request with the key is still running

    @property
    def http_status(self) -> int:
        return {"IDEMPOTENCY_KEY_INVALID": 400, "IDEMPOTENCY_KEY_REUSED": 422,
                "IDEMPOTENCY_KEY_IN_PROGRESS": 409}[self.value]

    @property
    def message(self) -> str:
        return {
            "IDEMPOTENCY_KEY_INVALID": f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            "IDEMPOTENCY_KEY_REUSED": "this Idempotency-Key was used with a different request: "
                                      "use a new key for a new request",
            "IDEMPOTENCY_KEY_IN_PROGRESS": "a request with this Idempotency-Key is still running: "
                                           "retry shortly to receive its response",
        }[self.value]


def parse_key(raw: str) -> str | None:
    """The key from the header value (a bare token or a quoted string, as in the IETF draft), or
    None when it is not acceptable."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(32 < ord(c) < 127 for c in key):
        return None
    return key


def request_fingerprint(document: str, operation_name: str | None, variables: Any) -> str:
    """Identifies "the same request": the normalised document, the operation chosen and the variables."""
    canonical = json.dumps({"document": document, "operation": operation_name, "variables": variables or {}},
                           sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def credential_fingerprint(credential: str) -> str:
    """Scope for a credential that names no user we can read without the database (e.g. an API key)."""
    return "credential:" + hashlib.sha256(credential.encode()).hexdigest()


def is_replayable(status: int, body: Any) -> bool:
    """Keep a response only when it is the mutation's answer. Server failures (5xx), authentication
    failures and crashes that left no data (masked errors carry no code) are not: the retry must run."""
    if status >= 500:
        return False
    if isinstance(body, list):  # a batch: kept only when every answer in it is
        return bool(body) and all(is_replayable(status, item) for item in body)
    if not isinstance(body, dict):
        return False
    errors = body.get("errors") or []
    for error in errors:
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        if code in RETRYABLE_ERROR_CODES:
            return False
        if code is None and body.get("data") is None:
            return False
    return True


@dataclass(frozen=True)
class StoredClaim:
    """What the store knows of an earlier request with the same caller and key."""

    request_hash: str
    created_at: datetime
    completed: bool


class Decision(str, Enum):
    REPLAY = "replay"
    REFUSE_REUSED = "reused"
    REFUSE_IN_PROGRESS = "in_progress"
    TAKE_OVER = "take_over"  # expired, or abandoned by a process that died mid-request


def decide(existing: StoredClaim, request_hash: str, now: datetime) -> Decision:
    """What to do with a request whose key is already claimed."""
    if now - existing.created_at >= RETENTION:
        return Decision.TAKE_OVER
    if existing.request_hash != request_hash:
        return Decision.REFUSE_REUSED
    if existing.completed:
        return Decision.REPLAY
    if now - existing.created_at >= ABANDONED_AFTER:
        return Decision.TAKE_OVER
    return Decision.REFUSE_IN_PROGRESS
