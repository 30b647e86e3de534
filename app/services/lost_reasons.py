"""The lost-reason picklist: admins keep it, a deal closed as lost names one of its active entries."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.enums import Role
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed, not_found
from app.domain.pipeline_defaults import DEFAULT_LOST_REASONS
from app.models import LostReason
from app.queries.visibility import Scope
from app.services.common import Checks, assign, strip_text

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
EDITABLE_FIELDS = ("name", "description", "is_active", "position")


def _require_admin(scope: Scope) -> None:
    if scope.role is not Role.ADMIN:
        raise PermissionDenied("only admins configure lost reasons")


async def ensure_default_lost_reasons() -> None:
    """A new installation's picklist, written once (an admin's later edits are never undone)."""
    if await LostReason.exists():
        return
    try:
        async with in_transaction():
            for position, reason in enumerate(DEFAULT_LOST_REASONS, start=1):
                await LostReason.create(position=position, **reason)
    except IntegrityError:
        pass  # another process seeded it meanwhile: the whole transaction rolled back, theirs stands


async def lost_reasons(include_inactive: bool = False) -> list[LostReason]:
    await ensure_default_lost_reasons()
    rows = LostReason.all() if include_inactive else LostReason.filter(is_active=True)
    return await rows.order_by("position", "name")


async def check_lost_reason_key(checks: Checks, field: str, key: str | None) -> None:
    """A deal may name an active entry only."""
    if key is None:
        return
    await ensure_default_lost_reasons()
    if not await LostReason.filter(key=key, is_active=True).exists():
        active = await LostReason.filter(is_active=True).order_by("position", "name").values_list("key", flat=True)
        checks.add(field, f"not an active lost reason; one of: {', '.join(str(k) for k in active)}", ErrorCode.INVALID)


async def _check(checks: Checks, data: dict, reason: LostReason | None) -> None:
    strip_text(data, "name", "description")
    checks.required_text(data, "name", required=reason is None)
    if reason is None:
        key = data.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            checks.add("key", "lowercase letters, digits and _, starting with a letter, at most 50", ErrorCode.INVALID)
        elif await LostReason.exists(key=key):
            checks.add("key", "already used", ErrorCode.DUPLICATE)
    name = data.get("name")
    if name and await LostReason.filter(name=name).exclude(id=reason.id if reason else 0).exists():
        checks.add("name", "already used", ErrorCode.DUPLICATE)


async def create_lost_reason(scope: Scope, data: dict) -> LostReason:
    _require_admin(scope)
    await ensure_default_lost_reasons()
    checks = Checks()
    await _check(checks, data, None)
    checks.raise_if_any()
    try:
        return await LostReason.create(**{k: v for k, v in data.items() if k in ("key", *EDITABLE_FIELDS) and v is not None})
    except IntegrityError:
        raise _taken() from None  # the same key or name created at the same moment


async def update_lost_reason(scope: Scope, reason_id: int, data: dict) -> LostReason:
    _require_admin(scope)
    reason = await LostReason.get_or_none(id=reason_id)
    if reason is None:
        raise not_found("id", "lost reason")
    checks = Checks()
    await _check(checks, data, reason)
    checks.raise_if_any()
    assign(reason, {k: v for k, v in data.items() if v is not None}, set(EDITABLE_FIELDS))
    try:
        await reason.save()
    except IntegrityError:
        raise _taken() from None  # the same name given to another entry at the same moment
    return reason


def _taken() -> ValidationFailed:
    return ValidationFailed.single("name", "already used", ErrorCode.DUPLICATE)

