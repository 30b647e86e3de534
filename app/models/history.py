"""Field history: one row per changed field of an opportunity, account or contact."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import ChangeSource

if TYPE_CHECKING:
    from app.models.users import User


class FieldHistoryEntry(Model):
    """Exactly one of opportunity_id, account_id, contact_id names the record (no foreign-key
    constraint: the history outlives a record deleted for good, for the audit). Values are text in the
    API's own form (app.domain.history.written)."""

    id = fields.BigIntField(primary_key=True)
    opportunity_id = fields.IntField(null=True)
    account_id = fields.IntField(null=True)
    contact_id = fields.IntField(null=True)
    field = fields.CharField(max_length=64)
    before = fields.TextField(null=True)
    after = fields.TextField(null=True)
    source = fields.CharEnumField(ChangeSource, max_length=16, default=ChangeSource.API)
    changed_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="field_history", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    changed_by_id: int | None
    changed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "field_history"
        indexes = (("opportunity_id", "id"), ("account_id", "id"), ("contact_id", "id"))
