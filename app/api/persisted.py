"""Persisted documents on HTTP: Apollo's automatic persisted queries (APQ) and the trusted-documents mode.

APQ: a client first sends only `extensions.persistedQuery {version: 1, sha256Hash}`. An unknown hash
answers the GraphQL error `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND), the client resends
with the text, the text is checked against the hash and remembered (per process, bounded; another
process asks for the text once more). Documents registered with `crm register-documents` are known to
every process.

Trusted-documents mode (TRUSTED_DOCUMENTS_ONLY, for production): only registered documents run, by id or
by their exact text, on HTTP and on WebSocket; anything else is refused before parsing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from app.domain.documents import document_hash
from app.services.persisted_documents import trusted_document


class DocumentRefused(Exception):
    """A request whose document cannot run: a GraphQL request error with this message and code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _bounded_put(cache: OrderedDict, key: str, value: str, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class PersistedDocuments:
    def __init__(self, *, trusted_only: bool, cache_size: int) -> None:
        self.trusted_only = trusted_only
        self.cache_size = cache_size
        self._apq: OrderedDict[str, str] = OrderedDict()  # sha256 -> text sent by a client
        self._trusted: OrderedDict[str, str] = OrderedDict()  # id -> registered text (immutable, so cacheable)

    async def _registered(self, document_id: str) -> str | None:
        body = self._trusted.get(document_id)
        if body is None:
            body = await trusted_document(document_id)
            if body is not None:
                _bounded_put(self._trusted, document_id, body, self.cache_size)
        return body

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document text to run (None: the request carries none), or DocumentRefused."""
        query = query or None  # an empty text is no text (clients that send only the hash may send "")
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.trusted_only and query is not None and await self._registered(document_hash(query)) is None:
                raise DocumentRefused("Only registered documents run on this server (trusted documents)",
                                      "QUERY_NOT_IN_SAFELIST")
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise DocumentRefused("PersistedQueryNotSupported: expected extensions.persistedQuery "
                                  "{version: 1, sha256Hash}", "PERSISTED_QUERY_NOT_SUPPORTED")
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not sha or len(sha) > 128:
            raise DocumentRefused("persistedQuery.sha256Hash must be a non-empty string", "BAD_REQUEST")
        if self.trusted_only:
            registered = await self._registered(sha)
            if registered is None:
                raise DocumentRefused("PersistedQueryNotInList: this document is not registered on this server",
                                      "PERSISTED_QUERY_NOT_IN_LIST")
            return registered
        if query is not None:
            if document_hash(query) != sha:
                raise DocumentRefused("provided sha256Hash does not match the query", "PERSISTED_QUERY_HASH_MISMATCH")
            _bounded_put(self._apq, sha, query, self.cache_size)
            return query
        known = self._apq.get(sha) or await self._registered(sha)
        if known is None:
            raise DocumentRefused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        if sha in self._apq:
            self._apq.move_to_end(sha)
        return known


def websocket_handler(
    documents: PersistedDocuments,
    base: type[BaseGraphQLTransportWSHandler[Any, Any]] = BaseGraphQLTransportWSHandler,
) -> type[BaseGraphQLTransportWSHandler[Any, Any]]:
    """graphql-transport-ws with the same rules: in trusted-documents mode a socket runs only registered
    documents too (a `subscribe` message may carry a query or mutation as well as a subscription)."""

    class PersistedDocumentsWSHandler(base):  # type: ignore[valid-type,misc]
        async def handle_subscribe(self, message: Any) -> None:
            payload = message.get("payload") if isinstance(message, dict) else None
            if not self.connection_acknowledged or not isinstance(payload, dict):
                return await super().handle_subscribe(message)  # strawberry closes or refuses it
            query, extensions = payload.get("query"), payload.get("extensions")
            try:
                resolved = await documents.resolve(query if isinstance(query, str) else None,
                                                   extensions if isinstance(extensions, dict) else None)
            except DocumentRefused as exc:
                await self.send_message({"id": message.get("id"), "type": "error",
                                         "payload": [{"message": str(exc), "extensions": {"code": exc.code}}]})
                return None
            if resolved is not None:
                message = {**message, "payload": {**payload, "query": resolved}}
            return await super().handle_subscribe(message)

    return PersistedDocumentsWSHandler
