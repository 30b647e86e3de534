"""Passwords (argon2) and bearer tokens (PyJWT)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.models import User
from app.domain.errors import NotAuthenticated
from app.settings import get_settings

_hasher = PasswordHasher()
_ALGORITHM = "HS256"
# Verifying against a real hash for unknown emails keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user: User, now: datetime | None = None) -> tuple[str, datetime]:
    settings = get_settings()
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(minutes=settings.token_ttl_minutes)
    payload = {"sub": str(user.id), "role": user.role.value, "iat": now, "exp": expires}
    return jwt.encode(payload, settings.effective_secret_key, algorithm=_ALGORITHM), expires


async def authenticate(email: str, password: str) -> User | None:
    user = await User.get_or_none(email=email.strip().lower(), is_active=True)
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def user_id_from_token(token: str) -> int:
    """The user a valid, unexpired token names (the user may since have been deactivated)."""
    try:
        payload = jwt.decode(
            token, get_settings().effective_secret_key, algorithms=[_ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
        return int(payload["sub"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from None


async def user_from_token(token: str) -> User:
    user = await User.get_or_none(id=user_id_from_token(token), is_active=True)
    if user is None:
        raise NotAuthenticated("unknown or inactive user")
    return user
