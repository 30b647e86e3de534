"""Revocations travel to every API process through Redis pub/sub, so each can close the open
WebSockets of an ended session, user or API key within moments.

The database is the source of truth (a revoked credential is refused on its next use anyway);
pub/sub only hurries the closing of live connections. If a message is lost (Redis down), each
connection still re-checks its credential periodically (app/api/live_sessions.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Awaitable, Callable

from redis.asyncio import Redis

from app.domain.sessions import CloseReason
from app.services.redis import redis_url
from app.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    reason: CloseReason
    session_ids: tuple[str, ...] = ()
    # An API key's revocation names its service-account user.
    user_ids: tuple[int, ...] = ()
    # With user_ids: the one session of that user that stays (a password changed from it).
    except_session: str | None = None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "reason": self.reason.value})

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Revocation":
        data = json.loads(raw)
        return cls(reason=CloseReason(data["reason"]), session_ids=tuple(data["session_ids"]),
                   user_ids=tuple(data["user_ids"]),
                   except_session=data.get("except_session"))


def channel() -> str:
    return f"{get_settings().events_channel}:revocations"


_publisher: Redis | None = None


async def publish(revocation: Revocation) -> bool:
    """Tell every API process (False when Redis is down: the periodic re-check closes them later)."""
    global _publisher
    if _publisher is None:
        _publisher = Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
    try:
        await _publisher.publish(channel(), revocation.to_json())
        return True
    except Exception as exc:
        log.warning("could not publish a revocation (%s): %s", revocation.reason.value, exc)
        with contextlib.suppress(Exception):
            await _publisher.aclose()
        _publisher = None
        return False


class RevocationFeed:
    """This process's one subscription to the revocations channel, started on first use."""

    def __init__(self, handler: Callable[[Revocation], Awaitable[None]]) -> None:
        self._handler = handler
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def ensure_listening(self, timeout: float = 5) -> None:
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            client = Redis.from_url(redis_url())
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(channel())
                self._ready.set()
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        try:
                            await self._handler(Revocation.from_json(message["data"]))
                        except Exception:
                            log.exception("revocation handling failed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone: retry; connections re-check their credential meanwhile
                log.warning("revocation feed lost (%s); reconnecting", exc)
                self._ready.set()  # do not hold up new connections while Redis is away
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


async def close_publisher() -> None:
    global _publisher
    if _publisher is not None:
        with contextlib.suppress(Exception):
            await _publisher.aclose()
        _publisher = None
