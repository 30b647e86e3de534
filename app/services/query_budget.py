"""Each caller's query budget: a leaky bucket in Redis, charged with the static cost of every operation.

The bucket holds at most `capacity` cost units and drains `refill_per_second`; one Lua script reads,
drains and charges it atomically (Redis' own clock, so API processes with skewed clocks agree). A
request that does not fit is refused and charges nothing; `retry_after` says when it would fit.

Redis down is a decision, not an accident: the budget FAILS OPEN (the request runs, the answer says the
budget was not consulted) while the static maximum per operation still holds, so one request can never
cost more than that maximum. After a failure Redis is not asked again for a few seconds, so an outage
does not add a connect timeout to every request.

Charges that arrive while Redis is busy with earlier ones go together, in one pipeline of script
calls (a group commit): each is still its own atomic call in arrival order, but under load a request
pays a share of one round trip instead of one of its own (≈ 30 instead of ≈ 130 µs of CPU per charge
at ten concurrent requests; bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

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


# One charge waiting to be sent: the bucket, its capacity and drain, the cost, and who waits for the outcome.
_Pending = tuple[str, int, float, int, "asyncio.Future[Charge]"]


class QueryBudget:
    def __init__(self) -> None:
        self._client: Redis | None = None
        self._script: AsyncScript | None = None
        self._url: str | None = None
        self._skip_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[_Pending] = []
        self._sender: asyncio.Task | None = None

    def _connect(self) -> tuple[Redis, AsyncScript]:
        url = redis_url()
        if self._client is None or self._script is None or url != self._url:
            self._client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
            self._script = self._client.register_script(_LEAKY_BUCKET)
            self._url = url
        return self._client, self._script

    async def charge(self, caller: str, cost: int) -> Charge:
        """Charge `cost` to the caller's bucket (0 only reads what is left)."""
        settings = get_settings()
        if not settings.cost_budget_enabled or time.monotonic() < self._skip_until:
            return Charge(True, None)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): nothing of the old one's queue carries over
            self._loop, self._queue, self._sender = loop, [], None
        outcome: asyncio.Future[Charge] = loop.create_future()
        self._queue.append((KEY_PREFIX + caller, settings.cost_budget_capacity,
                            settings.cost_budget_refill_per_second, cost, outcome))
        if self._sender is None:
            self._sender = loop.create_task(self._send_queued())
        return await outcome

    async def _send_queued(self) -> None:
        """Send what is queued, one pipeline at a time, until nothing is left."""
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    outcomes = await self._run(batch)
                except Exception as exc:  # a bug, not an outage: the callers see it
                    for *_, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for (*_, waiter), outcome in zip(batch, outcomes, strict=True):
                    if not waiter.done():  # (its request may have been cancelled meanwhile)
                        waiter.set_result(outcome)
        finally:
            self._sender = None

    async def _run(self, batch: list[_Pending]) -> list[Charge]:
        try:
            client, script = self._connect()
            replies = await self._pipeline(client, script.sha, batch)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:  # Redis restarted or its script cache was flushed: load it, send those again
                await client.script_load(_LEAKY_BUCKET)
                for i, reply in zip(missing, await self._pipeline(client, script.sha, [batch[i] for i in missing]),
                                    strict=True):
                    replies[i] = reply
        except (RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            log.warning("query budget skipped, Redis unreachable: %s", exc)
            return [Charge(True, None)] * len(batch)
        return [self._outcome(reply, capacity) for reply, (_, capacity, *_) in zip(replies, batch, strict=True)]

    @staticmethod
    async def _pipeline(client: Redis, sha: str, batch: list[_Pending]) -> list:
        async with client.pipeline(transaction=False) as pipe:
            for key, capacity, rate, cost, _ in batch:
                pipe.evalsha(sha, 1, key, str(capacity), str(rate), str(cost))
            return await pipe.execute(raise_on_error=False)

    @staticmethod
    def _outcome(reply: Any, capacity: int) -> Charge:
        if isinstance(reply, Exception):
            log.warning("query budget skipped for one request: %s", reply)
            return Charge(True, None)
        admitted, level, retry = reply
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
