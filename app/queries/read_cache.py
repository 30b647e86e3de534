"""A read cache that is never stale after a commit: entries are tagged with a generation that
PostgreSQL bumps for us.

Migration 0005 makes every write to a table the hot reads depend on NOTIFY `crm_table_changes` at
commit (from any process or tool). Each API process LISTENs on a connection of its own and counts the
notifications: that count is the generation. A reader takes the generation BEFORE it queries and
stores its result under it; a later commit bumps the generation, so the entry is never served again.
While the listening connection is down, nothing is served or stored (we could miss a change) and the
reconnect starts a new generation; a heartbeat (our own NOTIFY, echoed back) notices a connection
that died without closing. SQLite has no NOTIFY: there the cache stays off.

What is left: a commit is seen when its notification arrives (well under a millisecond on one host),
so a read that starts in that instant may still get the previous answer; and if the listening
connection dies silently, up to `2 × heartbeat + 1` seconds (5 s by default) pass before the cache
stops answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Hashable

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "crm_table_changes"
HEARTBEAT_CHANNEL = "crm_read_cache_heartbeat"


def connection_params(client: Any) -> dict:
    """Where Tortoise's PostgreSQL client connects, for a connection of our own beside its pool."""
    return {"host": client.host, "port": client.port, "user": client.user, "password": client.password,
            "database": client.database}


class TableChangeFeed:
    """The generation of the cached tables, as seen by this process.

    Live only while connected AND our own heartbeat notification keeps coming back: a link that dies
    without a word (no FIN from a vanished host, a proxy that does not pass LISTEN through) stops
    counting as live within `2 × heartbeat + 1` seconds, and is then dropped and reconnected."""

    def __init__(self, connect_params: dict, reconnect_delay: float = 1.0, heartbeat_seconds: float = 2.0) -> None:
        self.connect_params = connect_params
        self.reconnect_delay = reconnect_delay
        self.heartbeat_seconds = heartbeat_seconds
        self.generation = 0
        self._connected = False
        self._last_echo = 0.0
        self._connection: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task] = []
        self._lost = asyncio.Event()

    @property
    def live(self) -> bool:
        return self._connected and time.monotonic() - self._last_echo < 2 * self.heartbeat_seconds + 1

    async def start(self) -> None:
        """Listen now if the database answers; keep (re)connecting in the background either way."""
        try:
            await self._connect()
        except Exception as exc:  # never stop the API for its cache: it stays off until connected
            log.warning("read cache off until the change feed connects: %s", exc)
            self._lost.set()
        self._tasks = [asyncio.create_task(self._keep_listening()), asyncio.create_task(self._heartbeat())]

    async def _connect(self) -> None:
        connection = await asyncpg.connect(**self.connect_params, timeout=10)
        try:
            connection.add_termination_listener(self._on_terminated)
            await connection.add_listener(CHANNEL, self._on_notification)
            await connection.add_listener(HEARTBEAT_CHANNEL, self._on_echo)
        except BaseException:
            connection.terminate()
            raise
        self._connection = connection
        self._lost.clear()
        self.generation += 1  # anything may have changed while nobody listened
        self._last_echo = time.monotonic()
        self._connected = True

    def _on_notification(self, *_: Any) -> None:
        self.generation += 1

    def _on_echo(self, *_: Any) -> None:
        self._last_echo = time.monotonic()

    def _on_terminated(self, *_: Any) -> None:
        self._drop()

    def _drop(self) -> None:
        self._connected = False
        self.generation += 1
        self._lost.set()

    async def _keep_listening(self) -> None:
        while True:
            await self._lost.wait()
            await asyncio.sleep(self.reconnect_delay)
            try:
                await self._connect()
                log.info("read cache change feed reconnected")
            except Exception as exc:
                log.warning("read cache change feed still down: %s", exc)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            connection = self._connection
            if not self._connected or connection is None:
                continue
            try:
                await asyncio.wait_for(connection.execute(f"NOTIFY {HEARTBEAT_CHANNEL}"), self.heartbeat_seconds)
            except Exception as exc:
                log.warning("read cache heartbeat failed: %s", exc)
            if self._connected and not self.live:
                log.warning("read cache change feed silent: reconnecting")
                self._drop()
                connection.terminate()

    async def stop(self) -> None:
        self._connected = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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
        self._entries: OrderedDict[Hashable, tuple[int, int, Any]] = OrderedDict()

    def generation(self) -> int | None:
        """Take this before reading from the database; None = do not cache now."""
        return self.feed.generation if self.feed.live else None

    def get(self, key: Hashable) -> Any | None:
        generation = self.generation()
        entry = self._entries.get(key)
        if entry is None or generation is None or entry[0] != generation:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[2]

    def put(self, key: Hashable, generation: int | None, value: Any, rows: int = 1) -> None:
        if generation is None or generation != self.feed.generation or not self.feed.live:
            return  # something committed while we read: this value may already be old
        rows = max(1, rows)  # an empty result still takes an entry
        old = self._entries.pop(key, None)
        if old is not None:
            self.rows -= old[1]
        self._entries[key] = (generation, rows, value)
        self.rows += rows
        while self.rows > self.max_rows and self._entries:
            _, (_, dropped, _) = self._entries.popitem(last=False)
            self.rows -= dropped
