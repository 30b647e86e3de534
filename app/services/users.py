"""Users: creation (CLI and admins) and look-ups."""

from __future__ import annotations

from app.domain.enums import Role
from app.domain.validation import email_error, normalize_email
from app.models import User
from app.services.auth import hash_password
from app.domain.errors import ErrorCode, FieldError, ValidationFailed

MIN_PASSWORD_LENGTH = 8


async def create_user(
    email: str, name: str | None, role: Role, password: str,
    manager_email: str | None = None, timezone: str = "UTC",
) -> User:
    errors: list[FieldError] = []
    email = normalize_email(email)
    if (msg := email_error(email)) is not None:
        errors.append(FieldError("email", msg, ErrorCode.INVALID))
    elif await User.exists(email=email):
        errors.append(FieldError("email", "a user with this email exists", ErrorCode.DUPLICATE))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters", ErrorCode.INVALID))
    manager = None
    if manager_email:
        manager = await User.get_or_none(email=normalize_email(manager_email))
        if manager is None:
            errors.append(FieldError("manager", "manager not found", ErrorCode.NOT_FOUND))
        elif manager.role == Role.REP:
            errors.append(FieldError("manager", "a rep cannot manage other users", ErrorCode.INVALID))
    if not _valid_timezone(timezone):
        errors.append(FieldError("timezone", "unknown IANA time zone", ErrorCode.INVALID))
    if errors:
        raise ValidationFailed(errors)
    return await User.create(
        email=email, name=name or email.split("@")[0], role=role,
        password_hash=hash_password(password), manager=manager, timezone=timezone,
    )


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
