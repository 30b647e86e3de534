"""Real-time fan-out of domain events across API processes through Redis pub/sub.

The database event log is the source of truth; pub/sub only wakes subscribers up ("event N exists").
Every subscriber reads the log itself from its own position, in commit order (app/queries/changelog.py),
so live delivery and replay are one path: no gap and no duplicate at the seam, whatever order the
messages arrive in, and a lost message (Redis down) only delays delivery until the next poll.
Each API process holds ONE Redis subscription, shared by all its GraphQL subscribers, opened with the
first local subscriber and closed with the last."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import AsyncIterator

from redis.asyncio import Redis

from app.domain.changelog import Position
from app.models import DomainEvent
from app.queries.changelog import now_position, read_after
from app.services.redis import redis_url
from app.settings import get_settings

log = logging.getLogger(__name__)

READ_BATCH = 500
# Committed events wait for an older transaction still in flight: look again soon, then less often.
HELD_POLL_SECONDS = 0.05
HELD_POLL_MAX_SECONDS = 1.0
# Without any wake-up (e.g. Redis down) a subscriber still reads the log this often.
IDLE_POLL_SECONDS = 5.0


_publisher: Redis | None = None


async def publish(event_ids: list[int]) -> bool:
    """Tell every API process these events exist. False when Redis is down (resume covers the gap)."""
    global _publisher
    if not event_ids:
        return True
    if _publisher is None:
        _publisher = Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
    try:
        for event_id in event_ids:
            await _publisher.publish(get_settings().events_channel, json.dumps({"id": event_id}))
        return True
    except Exception as exc:  # Redis down: subscribers catch up through their cursor on resume
        log.warning("could not publish events %s: %s", event_ids, exc)
        with contextlib.suppress(Exception):
            await _publisher.aclose()
        _publisher = None
        return False


class EventHub:
    """Per-process dispatcher from the one Redis subscription to local subscriber queues."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[int]] = set()
        self._task: asyncio.Task | None = None
        self._client: Redis | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return len(self._queues)

    async def _listen(self) -> None:
        self._client = Redis.from_url(redis_url())
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(get_settings().events_channel)
            self._ready.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                event_id = json.loads(message["data"])["id"]
                for q in list(self._queues):
                    q.put_nowait(event_id)
        finally:
            self._ready.clear()
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(get_settings().events_channel)
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await self._client.aclose()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[int]]:
        q: asyncio.Queue[int] = asyncio.Queue()
        async with self._lock:
            self._queues.add(q)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._listen())
        try:
            # Live first, then replay: nothing committed in between can fall into a gap.
            await asyncio.wait_for(self._ready.wait(), 5)
            yield q
        finally:
            async with self._lock:
                self._queues.discard(q)
                if not self._queues and self._task is not None:
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await self._task
                    self._task = None


hub = EventHub()


async def stream(after: Position | None, kinds: list[str]) -> AsyncIterator[DomainEvent]:
    """Events after the position (from "now" without one), in commit order, then live as they commit."""
    # "Now" before the subscription is live: whoever sees it live can rely on everything after it coming.
    position = after or await now_position()
    async with hub.subscribe() as wakeups:
        held_poll = HELD_POLL_SECONDS
        while True:
            events, position_next, held = await read_after(position, kinds, READ_BATCH)
            for event in events:
                yield event
            position = position_next
            if len(events) == READ_BATCH:
                continue
            held_poll = HELD_POLL_SECONDS if events or not held else min(held_poll * 2, HELD_POLL_MAX_SECONDS)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wakeups.get(), held_poll if held else IDLE_POLL_SECONDS)
            while not wakeups.empty():  # one read answers every wake-up so far
                wakeups.get_nowait()


async def close_publisher() -> None:
    global _publisher
    if _publisher is not None:
        with contextlib.suppress(Exception):
            await _publisher.aclose()
        _publisher = None
