"""Each caller's query budget: a leaky bucket in Redis, charged with the static cost of every operation.

The bucket holds at most `capacity` cost units and drains `refill_per_second`; one Lua script reads,
drains and charges it atomically (Redis' own clock, so API processes with skewed clocks agree). A
request that does not fit is refused and charges nothing; `retry_after` says when it would fit.

Redis down is a decision, not an accident: the budget FAILS OPEN (the request runs, the answer says the
budget was not consulted) while the static maximum per operation still holds, so one request can never
cost more than that maximum. After a failure Redis is not asked again for a few seconds, so an outage
does not add a connect timeout to every request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from app.services.redis import redis_url
from app.settings import get_settings

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV: capacity, drain per second, cost. Returns {admitted, level after, retry after}.
_LEAKY_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or '0')
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or tostring(now))
level = math.max(0, level - math.max(0, now - at) * rate)
if level + cost > capacity then
  return {0, tostring(level), tostring((level + cost - capacity) / rate)}
end
level = math.max(0, level + cost)
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {1, tostring(level), '0'}
"""

KEY_PREFIX = "crm:query-budget:"
RETRY_REDIS_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Charge:
    admitted: bool
    # None: the budget was not consulted (switched off, or Redis unreachable).
    remaining: int | None
    retry_after: int = 0


class QueryBudget:
    def __init__(self) -> None:
        self._client: Redis | None = None
        self._script: AsyncScript | None = None
        self._url: str | None = None
        self._skip_until = 0.0

    def _connect(self):
        url = redis_url()
        if self._client is None or url != self._url:
            self._client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
            self._script = self._client.register_script(_LEAKY_BUCKET)
            self._url = url
        return self._script

    async def charge(self, caller: str, cost: int) -> Charge:
        """Charge `cost` to the caller's bucket (0 only reads what is left)."""
        settings = get_settings()
        if not settings.cost_budget_enabled or time.monotonic() < self._skip_until:
            return Charge(True, None)
        capacity, rate = settings.cost_budget_capacity, settings.cost_budget_refill_per_second
        try:
            admitted, level, retry = await self._connect()(keys=[KEY_PREFIX + caller], args=[capacity, rate, cost])
        except (RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            log.warning("query budget skipped, Redis unreachable: %s", exc)
            return Charge(True, None)
        remaining = max(0, math.floor(capacity - float(level)))
        if admitted:
            return Charge(True, remaining)
        return Charge(False, remaining, max(1, math.ceil(float(retry))))

    async def refund(self, caller: str, cost: int) -> None:
        """Give back a charge for work that was not done after all (never below an empty bucket)."""
        if cost > 0:
            await self.charge(caller, -cost)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


budget = QueryBudget()
