"""ASGI guard around every HTTP request: the body size limit and outages answered as GraphQL errors.

- A body larger than `max_body_bytes` is refused with 413 and a GraphQL-shaped error. Bytes are
  counted as they stream in (a declared Content-Length over the limit is refused before reading), so a
  50 MB body never sits in memory.
- A backing service lost before the response started (the token check, the compiled read path,
  anything outside GraphQL execution) answers 503 with `extensions.code: SERVICE_UNAVAILABLE`
  instead of Starlette's bare text/plain 500. Inside execution the schema does the same
  (app/api/schema.py).
"""

from __future__ import annotations

import logging

import orjson

from app.api.cost import cost_extension
from app.api.outages import MESSAGE, SERVICE_UNAVAILABLE, is_outage
from app.settings import get_settings

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


def _error_body(message: str, code: str, **extra) -> bytes:
    return orjson.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code, **extra}}],
                         "extensions": {"cost": cost_extension(0, None)}})


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = get_settings().max_body_bytes
        too_large = _error_body(f"request body larger than {limit} bytes", "PAYLOAD_TOO_LARGE", maximum=limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _respond(send, 413, too_large)

        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _respond(send, 413, too_large)
        except Exception as exc:
            if started or not is_outage(exc):
                raise
            log.warning("503 for %s %s: %s: %s", scope["method"], scope["path"], type(exc).__name__, exc)
            await _respond(send, 503, _error_body(MESSAGE, SERVICE_UNAVAILABLE))
