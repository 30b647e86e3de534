"""GraphQL over HTTP (the GraphQL-over-HTTP spec) on /graphql: GET and POST, single and batched.

- Media types: `application/graphql-response+json` when the client accepts it, else `application/json`
  (also for `*/*` and a missing Accept header); nothing acceptable: 406.
- Status codes: a request that is not well-formed (body not JSON, `query` missing or not a string,
  `variables`/`extensions` not maps, `operationName` not a string) 400; an unsupported content type
  415; a mutation over GET 405. Request errors (parse, validation, variable coercion, unknown
  persisted document, a subscription sent here): 400 with `application/graphql-response+json` and no
  `data` entry, 200 with `application/json` (the spec's legacy rule). A response with data is 200;
  one whose data is null only because credentials were missing or bad is 401 (`WWW-Authenticate: Bearer`).
- Persisted documents (APQ, trusted documents): app/api/persisted.py.
- The compiled read path (app/api/fastpath.py) serves what it can; the rest is standard execution.
No request of any shape reaches a 500: anything unexpected is a bug and is logged with its traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from app.api.compression import MINIMUM_SIZE, accepts_gzip
from app.api.fastpath import CompiledAnswer
from app.api.persisted import DocumentRefused, PersistedDocuments

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Codes whose errors, when they are all a response has and its data is null, set the HTTP status.
STATUS_FOR_CODE = {"UNAUTHENTICATED": 401, "TOKEN_EXPIRED": 401, "RATE_LIMITED": 429, "SERVICE_UNAVAILABLE": 503}
WEBSOCKET_HINT = ("Subscriptions are served over WebSocket, not HTTP: connect to ws(s)://<host>/graphql with the "
                  "graphql-transport-ws protocol (for example the `graphql-ws` client) and send this document there")


class BadRequest(Exception):
    """The request is not a well-formed GraphQL-over-HTTP request: answered with `status`, nothing runs."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST", headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when we can serve nothing it accepts."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        q = 1.0
        charset_ok = True
        for param in params:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"').lower()
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key == "charset" and value not in ("utf-8", "utf8"):
                charset_ok = False
        if q <= 0 or not charset_ok:
            continue
        if media == GRAPHQL_RESPONSE:
            chosen = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            chosen = JSON
        else:
            continue
        # Highest q wins; on a tie the one listed first.
        if best is None or q > best[0]:
            best = (q, position, chosen)
    return best[2] if best else None


@dataclass
class Operation:
    """One GraphQL request of a (possibly batched) HTTP request, its parameters checked for shape."""

    query: str | None
    variables: dict | None
    operation_name: str | None
    extensions: dict | None


def _json_param(value: Any, name: str) -> Any:
    """GET parameters `variables` and `extensions` are JSON text."""
    if value is None or value == "":
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRequest(f"The `{name}` parameter must be JSON-encoded") from None


def operation_from(data: Any) -> Operation:
    if not isinstance(data, dict):
        raise BadRequest("A GraphQL request must be a JSON object with a `query` (or a list of them)")
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if query is not None and not isinstance(query, str):
        raise BadRequest("`query` must be a string")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a map (a JSON object) or null")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string or null")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be a map (a JSON object) or null")
    return Operation(query, variables, operation_name or None, extensions)  # "" names no operation


async def read_request(request: Request, max_batch: int) -> Operation | list[Operation | BadRequest]:
    if request.method in ("GET", "HEAD"):
        params = request.query_params
        return operation_from({
            "query": params.get("query"), "operationName": params.get("operationName") or None,
            "variables": _json_param(params.get("variables"), "variables"),
            "extensions": _json_param(params.get("extensions"), "extensions"),
        })
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type:
        raise BadRequest("Send the request as `Content-Type: application/json`", status=415, code="UNSUPPORTED_MEDIA_TYPE")
    if content_type != JSON and not (content_type.startswith("application/") and content_type.endswith("+json")):
        raise BadRequest(f"Unsupported content type {content_type!r}: send application/json", status=415,
                         code="UNSUPPORTED_MEDIA_TYPE")
    body = await request.body()
    if not body.strip():
        raise BadRequest("The request body is empty: send a JSON object with a `query`")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON") from None
    if isinstance(data, list):
        if not data:
            raise BadRequest("An empty batch: send at least one operation")
        if len(data) > max_batch:
            raise BadRequest(f"A batch holds at most {max_batch} operations")
        return [_batch_item(item) for item in data]
    return operation_from(data)


def _batch_item(data: Any) -> Operation | BadRequest:
    """A malformed operation in a batch fails alone: the others still run."""
    try:
        return operation_from(data)
    except BadRequest as exc:
        return exc


def _error(message: str, code: str) -> dict:
    return {"message": message, "extensions": {"code": code}}


def _codes(response: dict) -> set[str | None]:
    return {(e.get("extensions") or {}).get("code") for e in response.get("errors") or ()}


@dataclass
class Outcome:
    body: dict
    request_error: bool  # no data entry: nothing was executed
    sub_response: Any = None  # what resolvers set on info.context.response (status, headers)
    # The compiled read path's answer, already serialised (always data, no errors: a plain 200);
    # sent as it is, not parsed and serialised again (≈1 ms for a page of 100 deals).
    raw: CompiledAnswer | None = None

    def json(self) -> Any:
        return self.body if self.raw is None else orjson.Fragment(self.raw.body())


class GraphQLHTTP:
    """The /graphql HTTP endpoint. `view` is the strawberry view: its get_context/get_sub_response/
    process_result hooks are the ones used here, so context and result handling stay in one place."""

    def __init__(self, view: Any, documents: PersistedDocuments, *, max_batch: int, fast_path: Any = None,
                 graphiql: Any = None) -> None:
        self.view = view
        self.schema = view.schema
        self.documents = documents
        self.max_batch = max_batch
        self.fast_path = fast_path
        self.graphiql = graphiql

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":  # not a CORS preflight (those the CORS middleware answers)
            return Response(status_code=204, headers={"Allow": "GET, POST, OPTIONS"})
        if self.graphiql is not None and self.graphiql.wants_page(request):
            return self.graphiql.page(request)
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return self._respond({"errors": [_error(
                f"Not acceptable: this endpoint answers {GRAPHQL_RESPONSE} or {JSON}", "NOT_ACCEPTABLE")]}, 406, JSON)
        try:
            parsed = await read_request(request, self.max_batch)
        except BadRequest as exc:
            return self._respond({"errors": [_error(str(exc), exc.code)]}, exc.status, media_type, exc.headers)
        if isinstance(parsed, list):  # only a POST body can be a batch
            # One after the other: a batch's mutations run in the order the client listed them.
            bodies = []
            for operation in parsed:
                if isinstance(operation, BadRequest):
                    bodies.append({"errors": [_error(str(operation), operation.code)]})
                else:
                    bodies.append((await self._run(request, operation, batched=True)).json())
            return self._respond(bodies, 200, media_type)
        try:
            outcome = await self._run(request, parsed, batched=False)
        except BadRequest as exc:
            return self._respond({"errors": [_error(str(exc), exc.code)]}, exc.status, media_type, exc.headers)
        if outcome.raw is not None:
            return self._compiled(outcome.raw, media_type, request.headers.get("accept-encoding"))
        return self._finish(outcome, media_type)

    @staticmethod
    def _compiled(answer: CompiledAnswer, media_type: str, accept_encoding: str | None) -> Response:
        """The compiled path's answer, compressed here when the client accepts gzip (from the data's
        compressed start, kept with cached data; app/api/compression.py), else as it is."""
        content_type = f"{media_type}; charset=utf-8"
        if len(answer.data.text) >= MINIMUM_SIZE and accepts_gzip(accept_encoding):
            return Response(answer.gzipped(), status_code=200, media_type=content_type,
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(answer.body(), status_code=200, media_type=content_type)

    def _finish(self, outcome: Outcome, media_type: str) -> Response:
        body = outcome.body
        headers: dict[str, str] = {}
        status = 200
        if outcome.request_error:
            status = 400 if media_type == GRAPHQL_RESPONSE else 200
        if body.get("data") is None and body.get("errors"):
            # Nothing served because of credentials, the rate limit or an outage: say so in the status too.
            statuses = {STATUS_FOR_CODE.get(code or "") for code in _codes(body)}
            if len(statuses) == 1 and (only := statuses.pop()) is not None:
                status = only
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="graphql"'
        sub = outcome.sub_response
        if sub is not None:
            if sub.status_code:
                status = sub.status_code
            headers.update({k: v for k, v in sub.headers.items() if k.lower() != "content-type"})
        return self._respond(body, status, media_type, headers)

    @staticmethod
    def _respond(body: Any, status: int, media_type: str, headers: dict | None = None) -> Response:
        return Response(orjson.dumps(body), status_code=status, media_type=f"{media_type}; charset=utf-8",
                        headers=headers)

    async def _run(self, request: Request, operation: Operation, *, batched: bool) -> Outcome:
        try:
            query = await self.documents.resolve(operation.query, operation.extensions)
        except DocumentRefused as exc:
            return Outcome({"errors": [_error(str(exc), exc.code)]}, request_error=True)
        if query is None:
            if batched:
                return Outcome({"errors": [_error("No GraphQL query found in the request", "BAD_REQUEST")]}, True)
            raise BadRequest("No GraphQL query found in the request: send `query` (or a persisted query's hash)")
        if self.fast_path is not None:
            body = await self.fast_path.execute(query, operation.variables, operation.operation_name,
                                                request.headers.get("authorization"))
            if body is not None:
                return Outcome({}, request_error=False, raw=body)
        return await self._execute(request, operation, query, batched)

    async def _execute(self, request: Request, operation: Operation, query: str, batched: bool) -> Outcome:
        allowed = {OperationType.QUERY} if request.method in ("GET", "HEAD") else {OperationType.QUERY, OperationType.MUTATION}
        sub_response = await self.view.get_sub_response(request)
        context = await self.view.get_context(request, sub_response)
        try:
            result = await self.schema.execute(
                query, variable_values=operation.variables, context_value=context,
                root_value=await self.view.get_root_value(request), operation_name=operation.operation_name,
                allowed_operation_types=allowed, operation_extensions=operation.extensions)
        except InvalidOperationTypeError as exc:
            if exc.operation_type == OperationType.SUBSCRIPTION:
                return Outcome({"errors": [_error(WEBSOCKET_HINT, "WEBSOCKET_REQUIRED")]}, request_error=True)
            if batched:
                return Outcome({"errors": [_error("Mutations are sent with POST", "METHOD_NOT_ALLOWED")]}, True)
            raise BadRequest("Mutations are sent with POST, not GET", status=405, code="METHOD_NOT_ALLOWED",
                             headers={"Allow": "POST"}) from None
        except CannotGetOperationTypeError as exc:
            return Outcome({"errors": [_error(exc.as_http_error_reason(), "BAD_REQUEST")]}, request_error=True)
        except MissingQueryError:
            return Outcome({"errors": [_error("No GraphQL query found in the request", "BAD_REQUEST")]}, True)
        body = await self.view.process_result(request, result)
        errors = result.errors or ()
        # No data and no error located in the result: the request failed before execution.
        request_error = result.data is None and bool(errors) and all(_is_request_error(e) for e in errors)
        if request_error:
            body.pop("data", None)
        return Outcome(body, request_error, sub_response)


def _is_request_error(error: GraphQLError) -> bool:
    return not error.path
