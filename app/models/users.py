"""Users of the CRM (admins, sales managers, reps, and service accounts behind API keys) and the
credentials that stay valid only while their rows say so: login sessions, refresh tokens, API keys."""

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import Role
from app.models.base import created_at, updated_at


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16, default=Role.REP)
    manager: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    manager_id: int | None
    timezone = fields.CharField(max_length=64, default="UTC")
    is_active = fields.BooleanField(default=True)
    # The identity of an API key: it owns what the integration creates and cannot log in.
    is_service_account = fields.BooleanField(default=False, db_default=False)  # db_default: rows written by SQL (upgrades, bulk loads)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "users"


class Session(Model):
    """One login and every token refreshed from it (a refresh-token family). Its id is the access
    token's `sid`; once revoked_at is set, every token of the family is refused."""

    id = fields.CharField(max_length=32, primary_key=True)
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = created_at()
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "sessions"


class RefreshToken(Model):
    """A refresh token, stored as the SHA-256 of its secret; used once, then replaced by the next."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation["Session"] = fields.ForeignKeyField(
        "models.Session", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    session_id: str
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "refresh_tokens"


class ApiKey(Model):
    """An integration's bearer secret (stored as its SHA-256), acting as its service-account user."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    user_id: int
    key_hash = fields.CharField(max_length=64, unique=True)
    # The first characters of the secret, so an admin can tell keys apart without the secret.
    prefix = fields.CharField(max_length=16)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="created_api_keys", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = created_at()
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"
