"""Tasks and notifications for the people who do the selling."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import TaskPriority, TaskStatus
from app.models.base import JSONObject, created_at

if TYPE_CHECKING:
    from app.models.accounts import Account
    from app.models.opportunities import Opportunity
    from app.models.users import User


class Task(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=300)
    description = fields.TextField(default="")
    due_date = fields.DatetimeField(null=True)
    priority = fields.CharEnumField(TaskPriority, max_length=16, default=TaskPriority.MEDIUM)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.OPEN)
    assignee: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="tasks", on_delete=fields.CASCADE, db_index=True
    )
    assignee_id: int
    opportunity: fields.ForeignKeyNullableRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="tasks", null=True, on_delete=fields.CASCADE, db_index=True
    )
    opportunity_id: int | None
    account: fields.ForeignKeyNullableRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="tasks", null=True, on_delete=fields.CASCADE
    )
    account_id: int | None
    # Set when an automation or a job created the task: makes re-running it a no-op.
    source_key = fields.CharField(max_length=200, null=True, unique=True)
    completed_at = fields.DatetimeField(null=True)
    created_at = created_at()
    # For `updatedSince` (set by every full save; null only before migration 0009 backfilled it).
    updated_at = fields.DatetimeField(null=True, auto_now=True)

    class Meta:
        table = "tasks"


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="notifications", on_delete=fields.CASCADE, db_index=True
    )
    user_id: int
    kind = fields.CharField(max_length=64)
    title = fields.CharField(max_length=300)
    message = fields.TextField(default="")
    payload: fields.JSONField[JSONObject] = fields.JSONField(default=dict)
    source_key = fields.CharField(max_length=200, null=True, unique=True)
    read_at = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "notifications"
