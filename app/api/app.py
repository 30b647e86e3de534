"""The ASGI application: GraphQL over HTTP and WebSocket, health and readiness probes."""

from __future__ import annotations

import gc

import asyncio
import logging
from datetime import timedelta
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from tortoise import Tortoise, connections

from app.api.compression import Compression
from app.api.context import Context, authenticate, build_context
from app.api.cors import cors_middleware, normalized_origins
from app.api.fastpath import FastPath
from app.api.graphiql import GraphiQLPage, assets_route
from app.api.http import GraphQLHTTP
from app.api.idempotency import IdempotencyMiddleware
from app.api.live_sessions import ExplainedRejectionAdapter, SessionBoundHandler, live_connections, rejection_reason
from app.api.persisted import PersistedDocuments, websocket_handler
from app.api.request_guards import RequestGuard
from app.api.schema import build_schema
from app.db import tortoise_config
from app.queries.read_cache import ReadCache, TableChangeFeed, connection_params
from app.seed.demo_data import DEMO_LOGIN_EMAIL, DEMO_LOGIN_PASSWORD
from app.settings import get_settings
from app.services import login_throttle, query_budget, queue, realtime, revocations
from app.services.redis import ping_redis

log = logging.getLogger(__name__)

# Allocations (less deallocations) between two collections of the youngest generation; CPython's default is 700.
GC_YOUNG_THRESHOLD = 50_000


class CRMGraphQL(GraphQL[Context, None]):
    # Sockets close (4403, with a reason) when their token expires or their session/user/key is revoked.
    graphql_transport_ws_handler_class: type[BaseGraphQLTransportWSHandler[Context, None]] = SessionBoundHandler
    websocket_adapter_class = ExplainedRejectionAdapter

    async def get_context(self, request: Any, response: Any = None) -> Any:
        if isinstance(request, WebSocket):
            return Context(request=request, response=response)  # authenticated in on_ws_connect
        return await build_context(request, response, request.headers.get("authorization"))

    async def on_ws_connect(self, context: Context) -> None:
        """graphql-transport-ws: the token (or API key) comes in connection_init; without a valid one, 4403
        with the reason "token expired" or "unauthenticated: …"."""
        params = context.connection_params or {}
        token = params.get("authorization") or params.get("Authorization")
        await live_connections.before_authentication(context)
        await authenticate(context, token if isinstance(token, str) else None)
        if context.scope is None:
            context.request.state.close_reason = rejection_reason(context.auth_failure)
            raise ConnectionRejectionError({"reason": context.auth_error or "authentication required"})


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(_: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), 3)
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash the probe
        checks["database"] = f"error: {type(exc).__name__}"
    checks["redis"] = "ok" if await ping_redis() else "error: unreachable"
    # Without Redis the API still serves reads and commits writes (their jobs wait in the outbox), so
    # it stays in rotation, degraded; without the database it cannot answer and says so with a 503.
    down = sorted(name for name, state in checks.items() if state != "ok")
    if checks["database"] != "ok":
        status, code = "not ready", 503
    else:
        status, code = ("degraded" if down else "ready"), 200
    return JSONResponse({"status": status, "down": down, "checks": checks}, status_code=code)


def create_app(*, manage_database: bool = True, fast_path: bool | None = None,
               read_cache: bool | None = None) -> Starlette:
    settings = get_settings()
    schema = build_schema()
    graphql = CRMGraphQL(
        schema,
        graphql_ide=None,  # GraphiQL is served offline by app/api/graphiql.py
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=normalized_origins(settings),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
    )

    fast = settings.fast_path_enabled if fast_path is None else fast_path
    compiled = FastPath(schema) if fast else None
    caching = settings.read_cache_enabled if read_cache is None else read_cache

    @asynccontextmanager
    async def lifespan(app: Starlette):
        if manage_database:
            await Tortoise.init(config=tortoise_config(), _enable_global_fallback=True)
        feed = None
        database = connections.get("default")
        if compiled is not None and caching and database.capabilities.dialect == "postgres":
            feed = TableChangeFeed(connection_params(database))
            await feed.start()
            compiled.cache = ReadCache(feed, settings.read_cache_max_rows)
        if manage_database:
            # A server process: what start-up made (modules, the schema, compiled plans) lives as long as
            # the process, so the collector stops scanning it on every full collection.
            gc.freeze()
            # A request makes thousands of short-lived containers (rows, rendered objects) that reference
            # counting frees; collecting every 700 of them cost a list page 0.45 ms of CPU (bench/README.md).
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            if feed is not None and compiled is not None:  # a feed runs only for the compiled path
                compiled.cache = None
                await feed.stop()
            await queue.close_pool()
            await realtime.close_publisher()
            await live_connections.stop()
            await revocations.close_publisher()
            await login_throttle.close()
            await query_budget.budget.close()
            if manage_database:
                await Tortoise.close_connections()

    ide = settings.is_development if settings.graphiql_enabled is None else settings.graphiql_enabled
    documents = PersistedDocuments(trusted_only=settings.trusted_documents_only, cache_size=settings.apq_cache_size)
    graphql.graphql_transport_ws_handler_class = websocket_handler(documents, CRMGraphQL.graphql_transport_ws_handler_class)
    http = GraphQLHTTP(
        graphql, documents, max_batch=settings.max_batch_operations, fast_path=compiled,
        graphiql=GraphiQLPage("/graphql", DEMO_LOGIN_EMAIL, DEMO_LOGIN_PASSWORD) if ide else None)

    application = Starlette(
        # CORS first, so that the guard's 413/503 answers carry its headers too.
        middleware=[*[m for m in (cors_middleware(settings),) if m is not None], Middleware(Compression),
                    Middleware(RequestGuard)],
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", IdempotencyMiddleware(http, documents), methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql),
            *([assets_route()] if ide else []),
        ],
        lifespan=lifespan,
    )
    application.state.fast_path = compiled
    return application
