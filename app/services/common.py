"""Helpers every use case shares: visible look-ups, validation collection, field updates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model

from app.domain.opportunities import CENT
from app.domain.archive import delete_refusal
from app.domain.errors import ErrorCode, FieldError, PermissionDenied, ValidationFailed
from app.domain.validation import blank_error, money_error
from app.models import User
from app.queries.visibility import Scope, user_visible

M = TypeVar("M", bound=Model)


async def get_visible(model: type[M], pk: int | None, visible: Q, field: str, what: str) -> M:
    """The record if it exists and the caller may see it; otherwise the same NOT_FOUND."""
    obj = None if pk is None else await model.filter(visible, id=pk).first()
    if obj is None:
        raise ValidationFailed.single(field, f"{what} not found", ErrorCode.NOT_FOUND)
    return obj


class Checks:
    """Collects every field error of an input before anything is written."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str | None, message: str, code: ErrorCode = ErrorCode.INVALID) -> None:
        self.errors.append(FieldError(field, message, code))

    def check(self, field: str, message: str | None, code: ErrorCode = ErrorCode.INVALID) -> None:
        if message is not None:
            self.add(field, message, code)

    def required_text(self, data: dict, field: str, *, required: bool) -> None:
        if field in data:
            if data[field] is None:
                self.add(field, "is required", ErrorCode.REQUIRED)
            else:
                self.check(field, blank_error(data[field]), ErrorCode.REQUIRED)
        elif required:
            self.add(field, "is required", ErrorCode.REQUIRED)

    def money(self, data: dict, *fields: str) -> None:
        """Check amounts and normalise valid ones to cents, as the database will store them."""
        for field in fields:
            if data.get(field) is not None:
                message = money_error(data[field])
                self.check(field, message, ErrorCode.OUT_OF_RANGE)
                if message is None:
                    data[field] = Decimal(data[field]).quantize(CENT)

    def date_order(self, start_field: str, start, end_field: str, end) -> None:
        if start is not None and end is not None and end < start:
            self.add(end_field, f"must not be before {start_field}", ErrorCode.OUT_OF_RANGE)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def require_deleting_for_good(scope: Scope) -> None:
    """Deals, accounts, contacts and activities are deleted for good by admins only; others archive."""
    refusal = delete_refusal(scope.role)
    if refusal:
        raise PermissionDenied(refusal)


def assign(obj: Model, data: dict[str, Any], allowed: set[str]) -> None:
    for key, value in data.items():
        if key in allowed:
            setattr(obj, key, value)


async def check_grantee(checks: Checks, scope: Scope, user_id: int | None, field: str = "assigned_to_id") -> None:
    """Records (and access to them: ownership, account team) go only to active users the caller may
    see (app.queries.visibility.user_visible: their scope and their own manager). A missing, inactive
    or hidden user gets the same answer, so the answer tells nothing about which ids exist."""
    if user_id is None:
        return
    if not user_visible(scope, user_id) or not await User.exists(id=user_id, is_active=True):
        checks.add(field, "user not found", ErrorCode.NOT_FOUND)


def strip_text(data: dict, *fields: str) -> dict:
    for f in fields:
        if isinstance(data.get(f), str):
            data[f] = data[f].strip()
    return data

