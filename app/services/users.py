"""Users: creation (CLI and admins), administration by admins (role, manager, deactivation,
password reset), one's own password, and API keys (service accounts). Every change that narrows
what a user may do ends their sessions or closes their live connections here, in one place."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone as tz
from typing import cast

from app.domain.enums import Role
from app.domain.errors import ErrorCode, FieldError, PermissionDenied, ValidationFailed, not_found
from app.domain.sessions import CloseReason, manager_error, password_error
from app.domain.validation import email_error, normalize_email
from app.models import ApiKey, User
from app.queries.visibility import Scope
from app.services import auth, login_throttle, revocations

SERVICE_ACCOUNT_DOMAIN = "service-accounts.invalid"
UNUSABLE_PASSWORD_HASH = "!"  # no password verifies against it


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise PermissionDenied("user administration is for admins only")


async def _manager_chain(manager: User) -> list[int]:
    chain, seen, current = [], set(), manager.manager_id
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(current)
        # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
        found = cast("list[int | None]", await User.filter(id=current).values_list("manager_id", flat=True))
        current = found[0] if found else None
    return chain


async def _check_manager(errors: list[FieldError], field: str, user_id: int | None, manager: User | None) -> None:
    if manager is None:
        errors.append(FieldError(field, "manager not found", ErrorCode.NOT_FOUND))
        return
    if (msg := manager_error(user_id, manager.id, manager.role, await _manager_chain(manager))) is not None:
        errors.append(FieldError(field, msg, ErrorCode.CYCLE if "themselves" in msg else ErrorCode.INVALID))


async def create_user(
    email: str, name: str | None, role: Role, password: str,
    manager_email: str | None = None, timezone: str = "UTC", manager_id: int | None = None,
) -> User:
    errors: list[FieldError] = []
    email = normalize_email(email)
    if (msg := email_error(email)) is not None:
        errors.append(FieldError("email", msg, ErrorCode.INVALID))
    elif await User.exists(email=email):
        errors.append(FieldError("email", "a user with this email exists", ErrorCode.DUPLICATE))
    if (msg := password_error(password)) is not None:
        errors.append(FieldError("password", msg, ErrorCode.INVALID))
    manager = None
    if manager_email or manager_id is not None:
        manager = await (User.get_or_none(email=normalize_email(manager_email)) if manager_email
                         else User.get_or_none(id=manager_id, is_service_account=False))
        await _check_manager(errors, "manager" if manager_email else "manager_id", None, manager)
    if not _valid_timezone(timezone):
        errors.append(FieldError("timezone", "unknown IANA time zone", ErrorCode.INVALID))
    if errors:
        raise ValidationFailed(errors)
    return await User.create(
        email=email, name=name or email.split("@")[0], role=role,
        password_hash=await auth.hash_password_off_loop(password), manager=manager, timezone=timezone,
    )


async def admin_create_user(scope: Scope, data: dict) -> User:
    _require_admin(scope)
    return await create_user(data["email"], data.get("name"), data["role"], data["password"],
                             timezone=data.get("timezone") or "UTC", manager_id=data.get("manager_id"))


async def _person(user_id: int) -> User:
    user = await User.get_or_none(id=user_id, is_service_account=False)
    if user is None:
        raise not_found("id", "user")
    return user


async def update_user(scope: Scope, user_id: int, data: dict) -> User:
    """Name, role, manager (null: none). A role or manager change closes the live connections it affects."""
    _require_admin(scope)
    user = await _person(user_id)
    errors: list[FieldError] = []
    if "name" in data and not (data["name"] or "").strip():
        errors.append(FieldError("name", "must not be empty", ErrorCode.REQUIRED))
    role = data.get("role") or user.role
    if role != user.role:
        if user.id == scope.user_id:
            errors.append(FieldError("role", "you cannot change your own role", ErrorCode.FORBIDDEN))
        elif role == Role.REP and await User.exists(manager_id=user.id):
            errors.append(FieldError("role", "this user manages others: reassign their reports first", ErrorCode.IN_USE))
    manager = None
    if data.get("manager_id") is not None:
        manager = await User.get_or_none(id=data["manager_id"], is_service_account=False)
        await _check_manager(errors, "manager_id", user.id, manager)
    if errors:
        raise ValidationFailed(errors)
    affected = set()
    if role != user.role:
        affected.add(user.id)
    if "manager_id" in data and data["manager_id"] != user.manager_id:
        affected |= {i for i in (user.manager_id, data["manager_id"]) if i is not None}
        user.manager_id = data["manager_id"]
    user.role = role
    if "name" in data:
        user.name = data["name"].strip()
    await user.save()
    if affected:  # their visibility scope changed: subscriptions must restart with the new one
        await revocations.publish(revocations.Revocation(CloseReason.PERMISSIONS_CHANGED, user_ids=tuple(affected)))
    return user


async def deactivate_user(scope: Scope, user_id: int) -> User:
    _require_admin(scope)
    user = await _person(user_id)
    if user.id == scope.user_id:
        raise ValidationFailed.single("id", "you cannot deactivate yourself", ErrorCode.FORBIDDEN)
    await User.filter(id=user.id).update(is_active=False)
    user.is_active = False
    await auth.revoke_user_sessions(user.id, CloseReason.USER_DEACTIVATED)
    return user


async def reactivate_user(scope: Scope, user_id: int) -> User:
    _require_admin(scope)
    user = await _person(user_id)
    await User.filter(id=user.id).update(is_active=True)
    user.is_active = True
    return user


async def reset_password(scope: Scope, user_id: int, new_password: str) -> User:
    """An admin sets a new password: every session of the user ends."""
    _require_admin(scope)
    user = await _person(user_id)
    if (msg := password_error(new_password)) is not None:
        raise ValidationFailed.single("new_password", msg)
    await User.filter(id=user.id).update(password_hash=await auth.hash_password_off_loop(new_password))
    await auth.revoke_user_sessions(user.id, CloseReason.PASSWORD_CHANGED)
    return user


async def change_password(user: User, credential: auth.Credential, current: str, new_password: str) -> User:
    """One's own password, proven by the current one (throttled like logins); other sessions end."""
    if credential.is_api_key:
        raise ValidationFailed.single(None, "an API key has no password", ErrorCode.FORBIDDEN)
    if (msg := password_error(new_password)) is not None:
        raise ValidationFailed.single("new_password", msg)
    await login_throttle.before_attempt(user.email, None)
    if not await auth.verify_password_off_loop(user.password_hash, current):
        raise ValidationFailed.single("current_password", "wrong password")
    await login_throttle.succeeded(user.email)
    await User.filter(id=user.id).update(password_hash=await auth.hash_password_off_loop(new_password))
    await auth.revoke_user_sessions(user.id, CloseReason.PASSWORD_CHANGED, keep_session=credential.session_id)
    return user


# API keys ----------------------------------------------------------------------------------


async def create_api_key(scope: Scope, data: dict) -> tuple[ApiKey, str]:
    """A service account with the role (and manager) given, and its key; the secret is returned once."""
    _require_admin(scope)
    errors: list[FieldError] = []
    name = (data.get("name") or "").strip()
    if not name:
        errors.append(FieldError("name", "must not be empty", ErrorCode.REQUIRED))
    manager = None
    if data.get("manager_id") is not None:
        manager = await User.get_or_none(id=data["manager_id"], is_service_account=False)
        await _check_manager(errors, "manager_id", None, manager)
    if errors:
        raise ValidationFailed(errors)
    account = await User.create(email=f"api-key-{uuid.uuid4().hex[:16]}@{SERVICE_ACCOUNT_DOMAIN}", name=name,
                                role=data["role"], manager=manager, password_hash=UNUSABLE_PASSWORD_HASH,
                                is_service_account=True)
    secret, key_hash, prefix = auth.new_api_key_secret()
    key = await ApiKey.create(name=name, user=account, key_hash=key_hash, prefix=prefix, created_by_id=scope.user_id)
    key.user = account
    return key, secret


async def revoke_api_key(scope: Scope, key_id: int) -> ApiKey:
    _require_admin(scope)
    key = await ApiKey.filter(id=key_id).select_related("user").first()
    if key is None:
        raise not_found("id", "API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(tz.utc)
        await ApiKey.filter(id=key.id).update(revoked_at=key.revoked_at)
        await User.filter(id=key.user_id).update(is_active=False)
        await revocations.publish(revocations.Revocation(CloseReason.API_KEY_REVOKED, user_ids=(key.user_id,)))
    return key


async def api_keys(scope: Scope) -> list[ApiKey]:
    _require_admin(scope)
    return await ApiKey.all().select_related("user").order_by("id")


def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
