"""Claiming, completing and replaying `Idempotency-Key`s in the database (rules: app/domain/idempotency.py).

The unique (caller, key) row is the lock: of two concurrent requests with one key exactly one inserts
it and runs; the other finds it and is refused as in progress (or replays, once it completed). Every
state change of a row is a compare-and-set on its claim token, so a request whose claim was taken
over can neither overwrite nor delete the new owner's row.

Remaining risk: a process that dies after its mutation committed but before it stored the response
leaves a claim that another request may take over after `ABANDONED_AFTER`, and then runs again."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.exceptions import IntegrityError

from app.domain.idempotency import ABANDONED_AFTER, RETENTION, Decision, KeyProblem, StoredClaim, decide
from app.models import IdempotencyKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: run it, then `complete` (or `release`) with the token."""

    token: str


@dataclass(frozen=True)
class Replay:
    status_code: int
    content_type: str
    body: str


@dataclass(frozen=True)
class Refused:
    problem: KeyProblem


async def claim(caller: str, key: str, request_hash: str, now: datetime | None = None) -> Claimed | Replay | Refused:
    now = now or datetime.now(timezone.utc)
    for _ in range(3):  # another request may delete or take over the row between our statements
        token = secrets.token_hex(16)
        try:
            await IdempotencyKey.create(caller=caller, key=key, request_hash=request_hash, claim_token=token,
                                        created_at=now, expires_at=now + RETENTION)
            return Claimed(token)
        except IntegrityError:
            pass
        row = await IdempotencyKey.get_or_none(caller=caller, key=key)
        if row is None:
            continue
        decision = decide(StoredClaim(row.request_hash, row.created_at, row.completed_at is not None), request_hash, now)
        if decision is Decision.REPLAY:
            return Replay(row.status_code or 200, row.content_type or "application/json", row.response_body or "")
        if decision is Decision.REFUSE_REUSED:
            return Refused(KeyProblem.REUSED)
        if decision is Decision.REFUSE_IN_PROGRESS:
            return Refused(KeyProblem.IN_PROGRESS)
        taken = await IdempotencyKey.filter(id=row.id, claim_token=row.claim_token).update(
            request_hash=request_hash, claim_token=token, created_at=now, expires_at=now + RETENTION,
            status_code=None, content_type=None, response_body=None, completed_at=None)
        if taken:
            log.warning("idempotency key of %s taken over (expired or abandoned for %s)", caller, ABANDONED_AFTER)
            return Claimed(token)
    return Refused(KeyProblem.IN_PROGRESS)


async def complete(caller: str, key: str, claimed: Claimed, status_code: int, content_type: str, body: str) -> bool:
    """Store the response to replay; False when the claim was lost meanwhile."""
    return bool(await IdempotencyKey.filter(caller=caller, key=key, claim_token=claimed.token).update(
        status_code=status_code, content_type=content_type[:100], response_body=body,
        completed_at=datetime.now(timezone.utc)))


async def release(caller: str, key: str, claimed: Claimed) -> None:
    """Forget the claim of a request whose response is not worth replaying, so a retry runs again."""
    await IdempotencyKey.filter(caller=caller, key=key, claim_token=claimed.token, completed_at__isnull=True).delete()


async def sweep_expired(now: datetime | None = None) -> int:
    """Delete responses older than the retention; returns how many."""
    return await IdempotencyKey.filter(expires_at__lt=now or datetime.now(timezone.utc)).delete()
