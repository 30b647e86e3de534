"""Login throttling in Redis, per account and per client address.

Per account, every attempt reserves a slot atomically BEFORE the password is checked, so parallel
guesses cannot slip past the limit; a success clears the account's record. Per address only failures
count (an office behind one NAT logs in all day). After the allowed failures within the window, the
next attempt waits out a lockout that doubles each time (app.domain.sessions.lockout_seconds, handed
to the Redis script as a schedule so the count and the lock are set in one atomic step). While
locked, attempts are refused without checking anything, so a locked account and an unknown email look
alike, and the right password does not help until the lockout ends.

Keys are hashed (no emails in Redis). Redis down: logins fail (the caller sees an error), they are
never let through unthrottled.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

from app.domain.errors import RateLimited
from app.domain.sessions import lockout_seconds
from app.services.redis import redis_url
from app.settings import get_settings

# KEYS: lock, failures. ARGV: allowed, window s, reserve (1: count this attempt now), then the
# lockouts in ms for the allowed-th failure, the next, … (the schedule of app.domain.sessions).
# Returns the lockout left in ms (refused) or 0 (go ahead).
_ATTEMPT = """
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return left end
if ARGV[3] == '0' then return 0 end
local n = redis.call('INCR', KEYS[2])
local window = tonumber(ARGV[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], window) end
local allowed = tonumber(ARGV[1])
if n >= allowed then
  local lock = tonumber(ARGV[math.min(4 + n - allowed, #ARGV)])
  redis.call('SET', KEYS[1], '1', 'PX', math.max(1, lock))
  redis.call('EXPIRE', KEYS[2], math.max(window, math.ceil(lock / 1000) * 2))
end
return 0
"""
_SCHEDULE_STEPS = 16  # beyond this many doublings every cap is reached

_client: Redis | None = None


def _redis() -> Redis:
    global _client
    if _client is None:
        _client = Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
    return _client


def _keys(kind: str, value: str) -> list[str]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return [f"crm:login:{kind}:lock:{digest}", f"crm:login:{kind}:failures:{digest}"]


async def _attempt(kind: str, value: str, allowed: int, reserve: bool) -> int:
    s = get_settings()
    schedule = [int(1000 * lockout_seconds(allowed + step, allowed, s.login_lockout_base_seconds, s.login_lockout_max_seconds))
                for step in range(_SCHEDULE_STEPS)]
    # Redis sends numbers as their decimal text anyway; redis-py types the arguments as str and the
    # asyncio client's eval as the synchronous one's (str | Awaitable), hence str() and the cast.
    args = [str(allowed), str(s.login_failure_window_seconds), "1" if reserve else "0", *map(str, schedule)]
    left_ms = await cast("Awaitable[Any]", _redis().eval(_ATTEMPT, 2, *_keys(kind, value), *args))
    return math.ceil(int(left_ms) / 1000)


async def before_attempt(account: str, address: str | None) -> None:
    """Refuse (RateLimited) while the address or the account is locked out; else count the attempt."""
    s = get_settings()
    if address:
        wait = await _attempt("address", address, s.login_max_failures_per_address, reserve=False)
        if wait:
            raise RateLimited("too many failed logins from this address", wait)
    wait = await _attempt("account", account, s.login_max_failures_per_account, reserve=True)
    if wait:
        raise RateLimited("too many failed logins for this account", wait)


async def failed(address: str | None) -> None:
    """A failed attempt counts against its address (it already counted against its account)."""
    if address:
        await _attempt("address", address, get_settings().login_max_failures_per_address, reserve=True)
        # The lockout this may set gates the NEXT attempt from the address, like the account's.


async def succeeded(account: str) -> None:
    await _redis().delete(*_keys("account", account))


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
