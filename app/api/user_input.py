"""A query's invalid argument as clients see it. Kept apart from app.api.errors so that modules below
it (the connection types) can raise it too."""

from __future__ import annotations

from graphql import GraphQLError

from app.domain.errors import ValidationFailed


def camel(name: str | None) -> str | None:
    """snake_case service field names as the API prints them; dotted paths segment by segment."""
    if name is None:
        return None

    def one(segment: str) -> str:
        head, *rest = segment.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)

    return ".".join(one(segment) for segment in name.split("."))


def bad_user_input(exc: ValidationFailed) -> GraphQLError:
    """A query's invalid argument (queries have no payload for `errors`): a top-level BAD_USER_INPUT
    error, "field: message" with the field named as in the schema (camelCase), also in extensions.field."""
    error = exc.errors[0]
    field = camel(error.field)
    message = f"{field}: {error.message}" if field else error.message
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": field})
