"""Errors services raise for expected failures; the API turns them into payload errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorCode(str, Enum):
    INVALID = "invalid"
    REQUIRED = "required"
    NOT_FOUND = "not_found"
    DUPLICATE = "duplicate"
    OUT_OF_RANGE = "out_of_range"
    CYCLE = "cycle"
    IN_USE = "in_use"
    FORBIDDEN = "forbidden"
    STALE_VERSION = "stale_version"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    code: ErrorCode


class ValidationFailed(Exception):
    """Expected failure of a use case; nothing has been written."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str | None, message: str, code: ErrorCode = ErrorCode.INVALID) -> "ValidationFailed":
        return cls([FieldError(field, message, code)])


class NotAuthenticated(Exception):
    pass


class TokenExpired(NotAuthenticated):
    """A token that was valid and has run out: the client should refresh it, not ask for a password."""


class RateLimited(Exception):
    """Too many attempts: try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(Exception):
    pass


def not_found(field: str, what: str) -> ValidationFailed:
    return ValidationFailed.single(field, f"{what} not found", ErrorCode.NOT_FOUND)
