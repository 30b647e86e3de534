"""The `Idempotency-Key` header over HTTP: an ASGI wrapper around the GraphQL endpoint.

A POST whose chosen operation is a mutation and which carries the header runs at most once per
caller and key: the first response (status and body) is stored and replayed to every retry with
`Idempotent-Replayed: true`; the same key with another request gets 422 `IDEMPOTENCY_KEY_REUSED`;
a retry that arrives while the first request still runs gets 409 `IDEMPOTENCY_KEY_IN_PROGRESS`.
Queries, anonymous requests and requests without the header pass through untouched. Rules:
app/domain/idempotency.py; storage: app/services/idempotency.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse, print_ast

from app.domain.errors import NotAuthenticated
from app.domain.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    KeyProblem,
    credential_fingerprint,
    is_replayable,
    parse_key,
    request_fingerprint,
)
from app.api.compression import without_accept_encoding
from app.api.persisted import DocumentRefused, PersistedDocuments
from app.services import idempotency as store
from app.services.auth import read_credential

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 600.0


def mutation_fingerprint(document_text: str | None, operation_name: Any, variables: Any) -> str | None:
    """The request's fingerprint when the operation it runs is a mutation; None otherwise (queries,
    and documents the GraphQL layer will refuse anyway, ignore the key)."""
    if not isinstance(document_text, str) or not (operation_name is None or isinstance(operation_name, str)):
        return None
    try:
        document = parse(document_text)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations
              if operation_name is None or (op.name and op.name.value == operation_name)]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.MUTATION:
        return None
    return request_fingerprint(print_ast(document), operation_name, variables)


async def body_fingerprint(documents: PersistedDocuments, body: Any) -> str | None:
    """The fingerprint of a JSON body, single or batched, when it runs at least one mutation. A
    persisted document sent by its hash alone counts as its text, so a retried hash-only mutation is
    as safe as one that sends the text; a hash the server does not know runs nothing (the GraphQL
    layer answers PersistedQueryNotFound), so it needs no key."""
    operations = body if isinstance(body, list) else [body]
    parts: list[str | None] = []
    for operation in operations:
        if not isinstance(operation, dict):
            return None  # the GraphQL layer refuses the shape before anything runs
        extensions = operation.get("extensions")
        try:
            text = await documents.resolve(operation.get("query") if isinstance(operation.get("query"), str) else None,
                                           extensions if isinstance(extensions, dict) else None)
        except DocumentRefused:
            parts.append(None)
            continue
        parts.append(mutation_fingerprint(text, operation.get("operationName"), operation.get("variables")))
    if all(part is None for part in parts):
        return None
    if not isinstance(body, list):
        return parts[0]
    return request_fingerprint("\n".join(part or "-" for part in parts), None, None)


def caller_of(authorization: str | None) -> str | None:
    """Whose keys these are: the user a bearer token names (a refreshed token keeps the scope), else
    the credential itself. Anonymous requests have no scope and ignore the key."""
    if not authorization or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            credential = read_credential(token.strip())
        except NotAuthenticated:  # TokenExpired included: the request will be refused anyway
            pass
        else:
            return f"key:{credential.api_key_hash}" if credential.is_api_key else f"user:{credential.user_id}"
    return credential_fingerprint(authorization.strip())


def _json_response(status: int, body: bytes, extra: Sequence[tuple[bytes, bytes]] = ()) -> list[dict]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body}]


def _refusal(problem: KeyProblem) -> list[dict]:
    # Nothing was executed: a request error, so no "data" entry (GraphQL over HTTP).
    body = orjson.dumps({"errors": [{"message": problem.message, "extensions": {"code": problem.value}}]})
    extra = [(b"retry-after", b"1")] if problem is KeyProblem.IN_PROGRESS else []
    return _json_response(problem.http_status, body, extra)


class IdempotencyMiddleware:
    """Wraps the GraphQL endpoint (after the fast path, which only serves queries)."""

    def __init__(self, app, documents: PersistedDocuments) -> None:
        self.app = app
        self.documents = documents
        self._last_sweep = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_key = headers.get(HEADER)
        caller = caller_of(headers.get("authorization")) if raw_key is not None else None
        if raw_key is None or caller is None:
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return None  # the client went away before sending its request
        fingerprint = await self._fingerprint(headers.get("content-type", ""), body)
        if fingerprint is None:
            return await self.app(scope, _replaying(body, receive), send)
        key = parse_key(raw_key)
        if key is None:
            return await _send_all(send, _refusal(KeyProblem.INVALID))
        outcome = await store.claim(caller, key, fingerprint)
        if isinstance(outcome, store.Refused):
            return await _send_all(send, _refusal(outcome.problem))
        if isinstance(outcome, store.Replay):
            return await _send_all(send, _replay(outcome))
        await self._run_and_keep(scope, _replaying(body, receive), send, caller, key, outcome)
        await self._sweep_now_and_then()

    async def _run_and_keep(self, scope, receive, send, caller: str, key: str, claimed: store.Claimed) -> None:
        """Run the request, streaming its response to the client, and keep the response for retries."""
        status, content_type, chunks = 500, "application/json", []

        async def capture(message):
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = next((v.decode("latin-1") for n, v in message.get("headers", [])
                                     if n.lower() == b"content-type"), content_type)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            # Asked for as plain JSON, which is what is kept (and read); Compression encodes it on its way out.
            await self.app(without_accept_encoding(scope), receive, capture)
        except Exception:
            await store.release(caller, key, claimed)
            raise
        response = b"".join(chunks)
        try:
            parsed = orjson.loads(response)
        except orjson.JSONDecodeError:
            parsed = None
        if is_replayable(status, parsed):
            await store.complete(caller, key, claimed, status, content_type, response.decode())
        else:
            await store.release(caller, key, claimed)

    async def _fingerprint(self, content_type: str, body: bytes) -> str | None:
        if not content_type.startswith("application/json"):
            return None
        try:
            return await body_fingerprint(self.documents, orjson.loads(body))
        except orjson.JSONDecodeError:
            return None

    async def _sweep_now_and_then(self) -> None:
        """Expired responses are deleted lazily: at most once per SWEEP_EVERY_SECONDS per process."""
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY_SECONDS:
            return
        self._last_sweep = now
        try:
            removed = await store.sweep_expired()
        except Exception:  # housekeeping must never fail a request that already succeeded
            log.exception("sweeping expired idempotency keys failed")
            return
        if removed:
            log.info("swept %d expired idempotency keys", removed)


def _replay(outcome: store.Replay) -> list[dict]:
    body = outcome.body.encode()
    headers = [(b"content-type", outcome.content_type.encode("latin-1")), (b"content-length", str(len(body)).encode()),
               (REPLAYED_HEADER.encode(), b"true")]
    return [{"type": "http.response.start", "status": outcome.status_code, "headers": headers},
            {"type": "http.response.body", "body": body}]


async def _read_body(receive) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


def _replaying(body: bytes, receive):
    """A receive() that hands the already-read body on once, then defers to the client."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_all(send, messages: list[dict]) -> None:
    for message in messages:
        await send(message)
