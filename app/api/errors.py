"""Turning service outcomes into GraphQL: payload errors for expected failures, top-level for auth."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

from graphql import GraphQLError
from strawberry import UNSET
from tortoise.exceptions import IntegrityError

from app.api.context import CtxInfo
from app.api.user_input import camel
from app.api.inputs import NOT_NULL, AddressInput
from app.api.types import UserError
from app.domain.global_ids import ID_FIELD_TYPES, InvalidGlobalId, decode_global_id, global_id
from app.domain.errors import ErrorCode, FieldError, NotAuthenticated, PermissionDenied, TokenExpired, ValidationFailed
from app.queries.visibility import Scope

T = TypeVar("T")
log = logging.getLogger(__name__)


def user_errors(exc: ValidationFailed) -> list[UserError]:
    return [UserError(field=camel(e.field), message=e.message, code=e.code) for e in exc.errors]


def parse_id(value: Any, field: str, type_name: str | None = None) -> int:
    """The primary key of a global id a client sent for `field`, which names a record of `type_name`
    (default: the type ID_FIELD_TYPES gives the field's last segment). A malformed id, or one of another
    type, is NOT_FOUND like a missing record."""
    expected = type_name or ID_FIELD_TYPES[field.rpartition(".")[2]]
    try:
        return decode_global_id(value, expected)
    except InvalidGlobalId:
        raise ValidationFailed.single(field, "not a valid id", ErrorCode.NOT_FOUND) from None


def _convert(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name.endswith("_id"):
        return parse_id(value, name)
    if isinstance(value, AddressInput):
        return {
            "street": value.street, "city": value.city, "region": value.region,
            "postalCode": value.postal_code, "country": value.country,
        }
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # naive datetimes are read as UTC
    return value


def input_data(value: Any) -> dict[str, Any]:
    """The fields the client actually sent, with ids parsed and datetimes made UTC-aware; an explicit
    null on a field that always has a value (REQUIRED) and an id that names nothing of its type
    (NOT_FOUND) are refused, all of them at once, before any use case runs."""
    data: dict[str, Any] = {}
    refused: list[FieldError] = []
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if v is UNSET:
            continue
        if v is None and f.metadata.get(NOT_NULL):
            refused.append(FieldError(f.name, "must not be null: leave the field out to keep its value", ErrorCode.REQUIRED))
            continue
        try:
            data[f.name] = _convert(f.name, v)
        except ValidationFailed as exc:  # an id that names nothing of its type
            refused += exc.errors
    if refused:
        raise ValidationFailed(refused)
    return data


_NOT_NULL_PATTERNS = (
    re.compile(r'null value in column "(\w+)"'),  # PostgreSQL
    re.compile(r"NOT NULL constraint failed: \w+\.(\w+)"),  # SQLite
)


def not_null_column(exc: Exception) -> str | None:
    """The column a NOT NULL violation names, else None."""
    for pattern in _NOT_NULL_PATTERNS:
        match = pattern.search(str(exc))
        if match:
            return match.group(1)
    return None


def top_level_error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def require_scope(info: CtxInfo) -> Scope:
    try:
        return info.context.require_scope()
    except NotAuthenticated as exc:
        raise top_level_error(str(exc), auth_error_code(exc)) from None


def auth_error_code(exc: NotAuthenticated) -> str:
    """TOKEN_EXPIRED: refresh and retry; UNAUTHENTICATED: missing or bad credentials, log in."""
    return "TOKEN_EXPIRED" if isinstance(exc, TokenExpired) else "UNAUTHENTICATED"


def deleting(type_name: str, action: Callable[[Scope], Awaitable[int]]) -> Callable[[Scope], Awaitable[str]]:
    """A delete use case whose payload names the removed record by its global id."""
    async def run(scope: Scope) -> str:
        return global_id(type_name, await action(scope))
    return run


async def run_mutation(
    info: CtxInfo, payload: Callable[..., T], field: str, action: Callable[[Scope], Awaitable[Any]]
) -> T:
    """Run a use case; expected failures become payload errors, permission failures top-level errors."""
    scope = require_scope(info)
    try:
        result = await action(scope)
    except ValidationFailed as exc:
        return payload(**{field: None, "errors": user_errors(exc)})
    except IntegrityError as exc:
        column = not_null_column(exc)
        if column is None:
            raise
        # A backstop for inputs not marked not_null(): the statement failed, nothing was written by it.
        log.info("null refused by the database for %s", column)
        return payload(**{field: None, "errors": user_errors(ValidationFailed.single(
            column, "must not be null: leave the field out to keep its value", ErrorCode.REQUIRED))})
    except PermissionDenied as exc:
        raise top_level_error(str(exc), "FORBIDDEN") from None
    return payload(**{field: result, "errors": []})
