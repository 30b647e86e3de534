"""Shared field helpers for the Tortoise models."""

from tortoise import fields


def money(**kwargs):
    """Money is Decimal with two places, never float."""
    return fields.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def created_at():
    return fields.DatetimeField(auto_now_add=True)


def updated_at():
    return fields.DatetimeField(auto_now=True)
