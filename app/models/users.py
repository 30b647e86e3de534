"""Users of the CRM: admins, sales managers and their reps."""

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
    manager = fields.ForeignKeyField(
        "models.User", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    timezone = fields.CharField(max_length=64, default="UTC")
    is_active = fields.BooleanField(default=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "users"
