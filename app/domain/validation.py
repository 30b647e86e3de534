"""Pure validators shared by every use case. Each returns an error message or None."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email


def email_error(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def normalize_email(email: str) -> str:
    return email.strip().lower()


def percent_error(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    if value < 0 or value > 100:
        return "must be between 0 and 100"
    return None


def non_negative_error(value: Decimal | int | None) -> str | None:
    if value is not None and value < 0:
        return "must not be negative"
    return None


def positive_error(value: Decimal | int | None) -> str | None:
    if value is not None and value <= 0:
        return "must be greater than 0"
    return None


def money_error(value: Decimal | None) -> str | None:
    """Money fits the columns: 12 digits before the point, 2 after."""
    if value is None:
        return None
    try:
        value = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not value.is_finite():
            return "must be a finite amount"
        if value < 0:
            return "must not be negative"
        if value.quantize(Decimal("0.01")) != value:
            return "must have at most 2 decimal places"
        if value >= Decimal("1e12"):
            return "is too large"
    except InvalidOperation:
        return "is not a valid amount"
    return None


def blank_error(value: str | None) -> str | None:
    if value is not None and not value.strip():
        return "must not be blank"
    return None
