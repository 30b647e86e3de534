"""Real-time fan-out of domain events across API processes through Redis pub/sub.

The database event log is the source of truth (ids are the subscription cursors); pub/sub only
says "event N exists". Each API process holds ONE Redis subscription, shared by all its GraphQL
subscribers, opened with the first local subscriber and closed with the last."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

from redis.asyncio import Redis

from app.models import DomainEvent
from app.services.redis import redis_url
from app.settings import get_settings

log = logging.getLogger(__name__)

REPLAY_RETENTION = timedelta(days=7)
REPLAY_BATCH = 500


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


async def replay(after: int, kinds: list[str]) -> AsyncIterator[DomainEvent]:
    """Events after the cursor, oldest first, within the retention period, in batches."""
    since = datetime.now(timezone.utc) - REPLAY_RETENTION
    cursor = after
    while True:
        batch = await (DomainEvent.filter(id__gt=cursor, kind__in=kinds, created_at__gte=since)
                       .order_by("id").limit(REPLAY_BATCH))
        for event in batch:
            yield event
        if len(batch) < REPLAY_BATCH:
            return
        cursor = batch[-1].id


async def stream(after: int | None, kinds: list[str]) -> AsyncIterator[DomainEvent]:
    """Replay from the cursor, then continue live: no gap and no duplicate at the seam."""
    async with hub.subscribe() as live:
        replayed: set[int] = set()
        if after is not None:
            async for event in replay(after, kinds):
                replayed.add(event.id)
                yield event
        while True:
            event_id = await live.get()
            if event_id in replayed or (after is not None and event_id <= after):
                continue
            event = await DomainEvent.get_or_none(id=event_id)
            if event is not None and event.kind in kinds:
                yield event


async def close_publisher() -> None:
    global _publisher
    if _publisher is not None:
        with contextlib.suppress(Exception):
            await _publisher.aclose()
        _publisher = None
