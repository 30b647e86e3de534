"""Shared field helpers for the Tortoise models."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, overload

from tortoise import fields

# A JSON column's value as the code reads it (a JSON object).
JSONObject = dict[str, Any]


@overload
def money(*, null: Literal[False] = False, **kwargs: Any) -> fields.DecimalField[Decimal]: ...
@overload
def money(*, null: Literal[True], **kwargs: Any) -> fields.DecimalField[Decimal | None]: ...
def money(*, null: bool = False, **kwargs: Any) -> fields.DecimalField[Any]:
    """Money is Decimal with two places, never float."""
    if null:
        return fields.DecimalField(max_digits=14, decimal_places=2, null=True, **kwargs)
    return fields.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def created_at() -> fields.DatetimeField[datetime]:
    return fields.DatetimeField(auto_now_add=True)


def updated_at() -> fields.DatetimeField[datetime]:
    return fields.DatetimeField(auto_now=True)
