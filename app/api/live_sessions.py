"""WebSocket connections that live only as long as the credential they were opened with.

A graphql-transport-ws connection authenticates once, in connection_init. It is then closed with
code 4403 and a reason a client can show (app.domain.sessions.CloseReason) when:
- its access token expires (a timer per connection): "token expired";
- its session, its user or its API key is revoked in any API process: the revocation arrives through
  Redis pub/sub (app.services.revocations) and every process closes its matching connections;
- a periodic re-check of the credential fails (covers a revocation message lost while Redis was away).
A refused connection_init closes with 4403 too, saying "token expired" or "unauthenticated: …".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import datetime, timezone
from typing import cast

from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from app.api.context import Context
from app.domain.errors import NotAuthenticated, TokenExpired
from app.domain.sessions import CloseReason
from app.services import auth
from app.services.revocations import Revocation, RevocationFeed
from app.settings import get_settings

log = logging.getLogger(__name__)

CLOSE_CODE = 4403
# Revocations remembered for connections that were authenticating while they arrived.
RECENT_SECONDS = 30.0


def rejection_reason(failure: NotAuthenticated | None) -> str:
    if isinstance(failure, TokenExpired):
        return CloseReason.TOKEN_EXPIRED.value
    detail = str(failure) if failure else "authentication required"
    return f"{CloseReason.UNAUTHENTICATED.value}: {detail}"[:120]  # close reasons hold 123 bytes


class ExplainedRejectionAdapter(ASGIWebSocketAdapter):
    """Strawberry closes a refused connection_init with the bare reason "Forbidden": say why instead."""

    async def close(self, code: int, reason: str) -> None:
        if code == CLOSE_CODE:
            reason = getattr(self.ws.state, "close_reason", None) or reason
        await super().close(code, reason)


class SessionBoundHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, plus: registered with this process's live connections once acknowledged."""

    _watch: asyncio.Task | None = None
    _ended = False

    async def handle_connection_init(self, message) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and getattr(self.context, "credential", None) is not None:
            live_connections.add(self)
            self._watch = asyncio.create_task(self._watch_credential())

    async def shutdown(self) -> None:
        live_connections.discard(self)
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        await super().shutdown()

    async def end(self, reason: str) -> None:
        """Stop every operation and close the socket with 4403 and the reason."""
        if self._ended:
            return
        self._ended = True
        live_connections.discard(self)
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may be gone already
            cast(ASGIWebSocketAdapter, self.websocket).ws.state.close_reason = reason  # the app serves ASGI
            await self.websocket.close(CLOSE_CODE, reason)

    async def _watch_credential(self) -> None:
        """Close at the token's expiry; re-check the credential every ws_session_check_seconds meanwhile."""
        credential = self.context.credential
        assert credential is not None  # watched only once authenticated (handle_connection_init)
        interval = get_settings().ws_session_check_seconds
        while not self._ended:
            left = (credential.expires_at - datetime.now(timezone.utc)).total_seconds() if credential.expires_at else None
            if left is not None and left <= 0:
                await self.end(CloseReason.TOKEN_EXPIRED.value)
                return
            await asyncio.sleep(interval if left is None else min(interval, left))
            if credential.expires_at and credential.expires_at <= datetime.now(timezone.utc):
                continue  # expired: closed at the top of the loop
            try:
                await auth.user_for(credential)
            except NotAuthenticated:
                await self.end(CloseReason.SESSION_REVOKED.value)
                return
            except Exception as exc:  # database away: keep the connection, try again later
                log.warning("could not re-check a WebSocket's credential: %s", exc)


def _matches(handler: SessionBoundHandler, revocation: Revocation) -> bool:
    credential, user = handler.context.credential, handler.context.user
    assert credential is not None and user is not None  # only authenticated connections are registered
    if credential.session_id is not None and credential.session_id in revocation.session_ids:
        return True
    kept = revocation.except_session is not None and credential.session_id == revocation.except_session
    return user.id in revocation.user_ids and not kept


class LiveConnections:
    """This process's authenticated WebSockets, closed when a revocation names them."""

    def __init__(self) -> None:
        self._handlers: set[SessionBoundHandler] = set()
        self._closing: set[asyncio.Task] = set()
        self._recent: deque[tuple[float, Revocation]] = deque()
        self.feed = RevocationFeed(self._on_revocation)

    async def before_authentication(self, context) -> None:
        """Listen first, then authenticate: a revocation committed in between is heard (and kept in _recent)."""
        context.authenticating_since = time.monotonic()
        try:
            await self.feed.ensure_listening()
        except asyncio.TimeoutError:  # Redis slow or away: the periodic re-check still ends the connection
            log.warning("revocation feed not ready; relying on the periodic credential check")

    def add(self, handler: SessionBoundHandler) -> None:
        self._handlers.add(handler)
        since = getattr(handler.context, "authenticating_since", 0.0)
        for at, revocation in self._recent:
            if at >= since and _matches(handler, revocation):
                self._close(handler, revocation.reason.value)
                return

    def discard(self, handler: SessionBoundHandler) -> None:
        self._handlers.discard(handler)

    def _close(self, handler: SessionBoundHandler, reason: str) -> None:
        task = asyncio.create_task(handler.end(reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _on_revocation(self, revocation: Revocation) -> None:
        now = time.monotonic()
        self._recent.append((now, revocation))
        while self._recent and self._recent[0][0] < now - RECENT_SECONDS:
            self._recent.popleft()
        for handler in list(self._handlers):
            if _matches(handler, revocation):
                self._close(handler, revocation.reason.value)

    async def stop(self) -> None:
        await self.feed.stop()


live_connections = LiveConnections()
