"""What the API writes to its log about clients' mistakes: one line each, no traceback.

Strawberry would log every GraphQL error with the exception as exc_info (a traceback per bad token or
typo); the schema's `process_errors` (app/api/schema.py) uses these instead. Errors raised on purpose
(GraphQLError: authentication, permissions, validation, syntax) are the client's business: one WARNING
line with their code and path. Unexpected exceptions keep their traceback: those are ours to fix.
"""

from __future__ import annotations

from typing import TypeGuard

from graphql import GraphQLError


def is_client_error(error: object) -> TypeGuard[GraphQLError]:
    return isinstance(error, GraphQLError) and (error.original_error is None or isinstance(error.original_error, GraphQLError))


def one_line(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if not code:
        syntax = (error.message or "").startswith("Syntax Error")
        code = "FIELD_FAILED" if error.path else "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
    where = ".".join(str(p) for p in error.path) if error.path else "request"
    return f"client error {code} at {where}: {error.message.splitlines()[0] if error.message else ''}"
