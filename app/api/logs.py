"""What the API writes to its log about clients' mistakes: one line each, no traceback.

Strawberry logs every GraphQL error with the exception as exc_info (a traceback per bad token or typo).
Errors raised on purpose (GraphQLError: authentication, permissions, validation, syntax) are the
client's business: they become one WARNING line with their code and path. Unexpected exceptions keep
their traceback: those are ours to fix.
"""

from __future__ import annotations

import logging
from typing import TypeGuard

from graphql import GraphQLError

EXECUTION_LOGGER = "strawberry.execution"


def is_client_error(error: object) -> TypeGuard[GraphQLError]:
    return isinstance(error, GraphQLError) and (error.original_error is None or isinstance(error.original_error, GraphQLError))


def one_line(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if not code:
        syntax = (error.message or "").startswith("Syntax Error")
        code = "FIELD_FAILED" if error.path else "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
    where = ".".join(str(p) for p in error.path) if error.path else "request"
    return f"client error {code} at {where}: {error.message.splitlines()[0] if error.message else ''}"


class ClientErrorsOnOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if is_client_error(record.msg):
            record.msg, record.args = one_line(record.msg), ()
            record.exc_info = record.exc_text = record.stack_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    logger = logging.getLogger(EXECUTION_LOGGER)
    if not any(isinstance(f, ClientErrorsOnOneLine) for f in logger.filters):
        logger.addFilter(ClientErrorsOnOneLine())
