"""Credentials: passwords (argon2, hashed in a worker thread), short-lived access tokens (PyJWT),
refresh-token families (sessions) and API keys.

An access token names its user and its session (`sid`); it is accepted while unexpired, its user is
active and its session is not revoked. A refresh token is used once: refreshing marks it used and
hands out the next one of the same session; presenting a used one again means it was stolen (or the
client is confused), so the whole session is revoked. Refresh tokens and API keys are random secrets
stored only as SHA-256 (enough for 256-bit secrets, and fast to look up by).

What is left: a token issued by `issue_token` without a login (tests, benchmarks, scripts) belongs to
no stored session until it is logged out; it ends with its expiry or its user's deactivation.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from app.domain.errors import NotAuthenticated, TokenExpired
from app.domain.sessions import CloseReason
from app.domain.validation import normalize_email
from app.models import ApiKey, RefreshToken, Session, User
from app.services import login_throttle, revocations
from app.settings import get_settings

# OWASP's argon2id setting (19 MiB, 2 passes, 1 lane): one lane means one thread per hash, so a flood
# of logins cannot take every core from the event loop. Older hashes (argon2-cffi's defaults: 4 lanes)
# still verify and are rehashed with these parameters at their next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Hashing runs in a pool of its own, smaller than the machine: logins queue there, other requests don't.
_password_pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="argon2")
_ALGORITHM = "HS256"
# Verifying against a real hash for unknown emails keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
API_KEY_PREFIX = "kpk_"
REFRESH_TOKEN_PREFIX = "kpr_"
# lastUsedAt of an API key is written at most this often per process (it is a write per request otherwise).
API_KEY_USE_RESOLUTION = timedelta(seconds=60)


def hash_password(password: str) -> str:
    """Blocking (tens of ms of CPU): in request handling use `hash_password_off_loop`."""
    return _hasher.hash(password)


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_password_pool, _hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """argon2 in a worker thread (it releases the GIL): a login never stalls other requests."""
    return await asyncio.get_running_loop().run_in_executor(_password_pool, verify_password,
                                                            password_hash or _DUMMY_HASH, password)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Access tokens ------------------------------------------------------------------------------


def issue_token(user: User, now: datetime | None = None, session_id: str | None = None) -> tuple[str, datetime]:
    """A signed access token and its expiry. Without a session id it gets a fresh one of its own."""
    settings = get_settings()
    now = now or _now()
    expires = now + timedelta(minutes=settings.token_ttl_minutes)
    payload = {"sub": str(user.id), "sid": session_id or uuid.uuid4().hex, "role": user.role.value,
               "iat": now, "exp": expires}
    return jwt.encode(payload, settings.effective_secret_key, algorithm=_ALGORITHM), expires


@dataclass(frozen=True)
class Credential:
    """What a bearer token claims, checked cryptographically (not yet against the database)."""

    user_id: int | None = None
    session_id: str | None = None
    expires_at: datetime | None = None
    api_key_hash: str | None = None

    @property
    def cache_key(self) -> tuple:
        return ("key", self.api_key_hash) if self.api_key_hash else ("session", self.user_id, self.session_id)

    @property
    def is_api_key(self) -> bool:
        return self.api_key_hash is not None


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header (both read paths parse it here);
    NotAuthenticated when the header has another shape."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("malformed Authorization header: expected 'Bearer <token>'")
    return token.strip()


def read_credential(token: str) -> Credential:
    """Parse a bearer token: TokenExpired for an expired access token, NotAuthenticated for anything else bad."""
    if token.startswith(API_KEY_PREFIX):
        return Credential(api_key_hash=_sha256(token))
    try:
        payload = jwt.decode(token, get_settings().effective_secret_key, algorithms=[_ALGORITHM],
                             options={"require": ["exp", "sub", "sid"]})
        return Credential(user_id=int(payload["sub"]), session_id=str(payload["sid"]),
                          expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc))
    except jwt.ExpiredSignatureError:
        raise TokenExpired("token expired: refresh it (refreshToken) or log in again") from None
    except (jwt.PyJWTError, ValueError) as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from None


async def user_for(credential: Credential) -> User:
    """The active user behind a credential, checked against the database (one query)."""
    if credential.api_key_hash is not None:
        key = await (ApiKey.filter(key_hash=credential.api_key_hash, revoked_at__isnull=True, user__is_active=True)
                     .select_related("user").first())
        if key is None:
            raise NotAuthenticated("unknown or revoked API key")
        return key.user
    user = await _session_user(credential.user_id, credential.session_id)
    if user is None:
        raise NotAuthenticated("session ended or user inactive: log in again")
    return user


@lru_cache(maxsize=1)
def _session_user_sql() -> str:
    """The session check below as one fixed PostgreSQL statement (every column of users)."""
    columns = ", ".join(f'"{column}"' for column in User._meta.fields_db_projection.values())
    return (f'SELECT {columns} FROM "users" WHERE "id" = $1 AND "is_active" AND "id" NOT IN '
            '(SELECT "user_id" FROM "sessions" WHERE "id" = $2 AND "revoked_at" IS NOT NULL) LIMIT 1')


async def _session_user(user_id: int | None, session_id: str | None) -> User | None:
    """The active user of an unrevoked session (a token's user and session), else None. Every request
    asks this (both read paths): on PostgreSQL it is one prepared statement whose row becomes the model
    as Tortoise would make it, instead of a query built per request (≈ 0.3 ms of CPU each)."""
    db = connections.get("default")
    if db.capabilities.dialect == "postgres" and user_id is not None and session_id is not None:
        async with db.acquire_connection() as conn:
            row = await conn.fetchrow(_session_user_sql(), user_id, session_id)
        return None if row is None else User._init_from_db(**dict(row))
    revoked = Subquery(Session.filter(id=session_id, revoked_at__isnull=False).values("user_id"))
    return await User.filter(Q(id=user_id, is_active=True) & ~Q(id__in=revoked)).first()


_key_last_recorded: dict[str, float] = {}


async def record_use(credential: Credential) -> None:
    """Stamp an API key's lastUsedAt (at most once a minute per process)."""
    if credential.api_key_hash is None:
        return
    now = time.monotonic()
    if now - _key_last_recorded.get(credential.api_key_hash, -1e9) < API_KEY_USE_RESOLUTION.total_seconds():
        return
    _key_last_recorded[credential.api_key_hash] = now
    await ApiKey.filter(key_hash=credential.api_key_hash).update(last_used_at=_now())


async def authenticate_bearer(token: str) -> tuple[User, Credential]:
    credential = read_credential(token)
    user = await user_for(credential)
    await record_use(credential)
    return user, credential


async def user_from_token(token: str) -> User:
    return (await authenticate_bearer(token))[0]


# Logins and sessions ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    expires_at: datetime
    refresh_token: str


async def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None (same work either way)."""
    user = await User.get_or_none(email=normalize_email(email), is_active=True, is_service_account=False)
    valid = await verify_password_off_loop(user.password_hash if user else None, password)
    if user is None or not valid:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)
        await User.filter(id=user.id).update(password_hash=user.password_hash)
    return user


async def login(email: str, password: str, client_address: str | None) -> SignedIn | None:
    """Password login, throttled per account and per address (RateLimited); None for bad credentials."""
    account = normalize_email(email)
    await login_throttle.before_attempt(account, client_address)
    user = await authenticate(account, password)
    if user is None:
        await login_throttle.failed(client_address)
        return None
    await login_throttle.succeeded(account)
    return await start_session(user)


def _new_refresh_secret() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


async def _next_refresh_token(session_id: str) -> str:
    secret = _new_refresh_secret()
    await RefreshToken.create(session_id=session_id, token_hash=_sha256(secret),
                              expires_at=_now() + timedelta(days=get_settings().refresh_token_ttl_days))
    return secret


async def start_session(user: User) -> SignedIn:
    session = await Session.create(id=uuid.uuid4().hex, user=user)
    refresh = await _next_refresh_token(session.id)
    token, expires = issue_token(user, session_id=session.id)
    return SignedIn(user, token, expires, refresh)


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, reused or of an ended session: log in again."""


async def refresh(refresh_token: str) -> SignedIn:
    """Rotate: the presented token becomes used and the next one of its session is handed out."""
    found = await RefreshToken.filter(token_hash=_sha256(refresh_token)).select_related("session__user").first()
    if found is None:
        raise RefreshRefused("unknown refresh token")
    session, user = found.session, found.session.user
    if session.revoked_at is not None or not user.is_active:
        raise RefreshRefused("the session has ended: log in again")
    if found.expires_at <= _now():
        raise RefreshRefused("refresh token expired: log in again")
    # Compare-and-set: of two uses of one token, exactly one wins; the other is a reuse.
    async with in_transaction():
        claimed = await RefreshToken.filter(id=found.id, used_at__isnull=True).update(used_at=_now())
        if claimed:
            secret = await _next_refresh_token(session.id)
    if not claimed:
        await revoke_sessions([session.id], CloseReason.SESSION_REVOKED)
        raise RefreshRefused("refresh token already used: the session is revoked, log in again")
    token, expires = issue_token(user, session_id=session.id)
    return SignedIn(user, token, expires, secret)


# Revocation ---------------------------------------------------------------------------------


async def revoke_sessions(session_ids: list[str], reason: CloseReason, user_id: int | None = None) -> None:
    """End sessions (every token of their families) and close their open WebSockets in every process.
    `user_id` lets a session that was never stored (issue_token without login) be revoked too."""
    if not session_ids:
        return
    now = _now()
    await Session.filter(id__in=session_ids, revoked_at__isnull=True).update(revoked_at=now, revoked_reason=reason.value)
    if user_id is not None:
        known = set(await Session.filter(id__in=session_ids).values_list("id", flat=True))
        for session_id in set(session_ids) - known:
            await Session.create(id=session_id, user_id=user_id, revoked_at=now, revoked_reason=reason.value)
    await revocations.publish(revocations.Revocation(reason=reason, session_ids=tuple(session_ids)))


async def revoke_user_sessions(user_id: int, reason: CloseReason, keep_session: str | None = None) -> None:
    """End every session of a user (but `keep_session`) and close their WebSockets."""
    query = Session.filter(user_id=user_id, revoked_at__isnull=True)
    if keep_session is not None:
        query = query.exclude(id=keep_session)
    await query.update(revoked_at=_now(), revoked_reason=reason.value)
    await revocations.publish(revocations.Revocation(reason=reason, user_ids=(user_id,), except_session=keep_session))


async def logout(credential: Credential, everywhere: bool = False) -> None:
    """End a session credential's session (API keys end with revoke_api_key, the caller refuses them)."""
    user_id, session_id = credential.user_id, credential.session_id
    assert user_id is not None and session_id is not None, "logout needs a session credential"
    if everywhere:
        await revoke_user_sessions(user_id, CloseReason.LOGGED_OUT)
    else:
        await revoke_sessions([session_id], CloseReason.LOGGED_OUT, user_id=user_id)


# API keys -----------------------------------------------------------------------------------


def new_api_key_secret() -> tuple[str, str, str]:
    """(secret, its hash, its display prefix): the secret is shown once and never stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, _sha256(secret), secret[: len(API_KEY_PREFIX) + 6]
