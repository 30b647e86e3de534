"""A backing service (PostgreSQL, Redis) lost mid-request: recognised here, answered as SERVICE_UNAVAILABLE.

Such a failure is nobody's bug and the client's request was fine: it gets a GraphQL error with
`extensions.code: SERVICE_UNAVAILABLE` and HTTP 503 (retry later), never a masked "Unexpected error."
nor a bare text/plain 500. Use cases write in transactions, so a connection lost mid-write leaves
nothing half-written.
"""

from __future__ import annotations

import errno
import sqlite3

import asyncpg
from graphql import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
MESSAGE = "the service is temporarily unavailable (a database or queue connection was lost); retry shortly"

_LOST = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", a pool being closed
    # "cannot switch to state …; another operation is in progress": a pooled connection the server
    # terminated mid-operation, met again by the next request before the pool replaced it.
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # server shut down, pg_terminate_backend, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    DBConnectionError,
    RedisConnectionError,
    RedisTimeoutError,
)


def is_outage(exc: BaseException | None) -> bool:
    """Whether the exception, or one it was raised from, means a backing service is unreachable."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _LOST):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def unavailable_error(error: GraphQLError | None = None) -> GraphQLError:
    return GraphQLError(MESSAGE, nodes=error.nodes if error else None, path=error.path if error else None,
                        extensions={"code": SERVICE_UNAVAILABLE})
