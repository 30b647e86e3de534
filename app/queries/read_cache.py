"""A read cache that is never stale after a commit: entries are tagged with a generation that
PostgreSQL bumps for us.

Migration 0005 makes every write to a table the hot reads depend on NOTIFY `crm_table_changes` at
commit (from any process or tool). Each API process LISTENs on a connection of its own and counts the
notifications: that count is the generation. A reader takes the generation BEFORE it queries and
stores its result under it; a later commit bumps the generation, so the entry is never served again.
While the listening connection is down, nothing is served or stored (we could miss a change) and the
reconnect starts a new generation. SQLite has no NOTIFY: there the cache stays off.

What is left: a commit is seen when its notification arrives (well under a millisecond on one host),
so a read that starts in that instant may still get the previous answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Hashable

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "crm_table_changes"


def connection_params(client: Any) -> dict:
    """Where Tortoise's PostgreSQL client connects, for a connection of our own beside its pool."""
    return {"host": client.host, "port": client.port, "user": client.user, "password": client.password,
            "database": client.database}


class TableChangeFeed:
    """The generation of the cached tables, as seen by this process."""

    def __init__(self, connect_params: dict, reconnect_delay: float = 1.0) -> None:
        self.connect_params = connect_params
        self.reconnect_delay = reconnect_delay
        self.generation = 0
        self.live = False
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._lost = asyncio.Event()

    async def start(self) -> None:
        """Listen now if the database answers; keep (re)connecting in the background either way."""
        try:
            await self._connect()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("read cache off until the change feed connects: %s", exc)
            self._lost.set()
        self._task = asyncio.create_task(self._keep_listening())

    async def _connect(self) -> None:
        connection = await asyncpg.connect(**self.connect_params)
        connection.add_termination_listener(self._on_terminated)
        await connection.add_listener(CHANNEL, self._on_notification)
        self._connection = connection
        self._lost.clear()
        self.generation += 1  # anything may have changed while nobody listened
        self.live = True

    def _on_notification(self, *_: Any) -> None:
        self.generation += 1

    def _on_terminated(self, *_: Any) -> None:
        self.live = False
        self.generation += 1
        self._lost.set()

    async def _keep_listening(self) -> None:
        while True:
            await self._lost.wait()
            self.live = False
            await asyncio.sleep(self.reconnect_delay)
            try:
                await self._connect()
                log.info("read cache change feed reconnected")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("read cache change feed still down: %s", exc)

    async def stop(self) -> None:
        self.live = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._connection is not None and not self._connection.is_closed():
            self._connection.remove_termination_listener(self._on_terminated)
            await self._connection.close()


class ReadCache:
    """Bounded LRU of query results, each valid only for the generation it was read under.

    The bound is in rows (a page of 100 opportunities with its relations is ≈ 800), so memory stays
    flat whatever the mix of small and large results."""

    def __init__(self, feed: TableChangeFeed, max_rows: int = 200_000) -> None:
        self.feed = feed
        self.max_rows = max_rows
        self.rows = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[int, int, Any]] = OrderedDict()

    def generation(self) -> int | None:
        """Take this before reading from the database; None = do not cache now."""
        return self.feed.generation if self.feed.live else None

    def get(self, key: Hashable) -> Any | None:
        generation = self.generation()
        entry = self._entries.get(key)
        if entry is None or generation is None or entry[0] != generation:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[2]

    def put(self, key: Hashable, generation: int | None, value: Any, rows: int = 1) -> None:
        if generation is None or generation != self.feed.generation or not self.feed.live:
            return  # something committed while we read: this value may already be old
        old = self._entries.pop(key, None)
        if old is not None:
            self.rows -= old[1]
        self._entries[key] = (generation, rows, value)
        self.rows += rows
        while self.rows > self.max_rows and self._entries:
            _, (_, dropped, _) = self._entries.popitem(last=False)
            self.rows -= dropped
