"""The audit trail of sensitive operations (personal data exports and erasures): who, what, when."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.models.base import JSONObject

if TYPE_CHECKING:
    from app.models.users import User


class AuditEntry(Model):
    """Append-only, written in the transaction of what it records: its detail holds no personal data.

    `detail` holds counts and ids only, never the personal data the operation was about."""

    id = fields.BigIntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=64)  # "contact.exported", "contact.erased"
    record_type = fields.CharField(max_length=64)  # the GraphQL type: "Contact"
    record_id = fields.IntField()
    at = fields.DatetimeField(auto_now_add=True)
    detail: fields.JSONField[JSONObject] = fields.JSONField(default=dict)

    class Meta:
        table = "audit_entries"
        indexes = (("record_type", "record_id"),)
