"""Tasks and notifications for the people who do the selling."""

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import TaskPriority, TaskStatus
from app.models.base import created_at


class Task(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=300)
    description = fields.TextField(default="")
    due_date = fields.DatetimeField(null=True)
    priority = fields.CharEnumField(TaskPriority, max_length=16, default=TaskPriority.MEDIUM)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.OPEN)
    assignee = fields.ForeignKeyField("models.User", related_name="tasks", on_delete=fields.CASCADE, db_index=True)
    # The foreign key's column, declared for type checkers (Tortoise adds it at runtime).
    assignee_id: int
    opportunity = fields.ForeignKeyField("models.Opportunity", related_name="tasks", null=True, on_delete=fields.CASCADE, db_index=True)
    account = fields.ForeignKeyField("models.Account", related_name="tasks", null=True, on_delete=fields.CASCADE)
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
    user = fields.ForeignKeyField("models.User", related_name="notifications", on_delete=fields.CASCADE, db_index=True)
    kind = fields.CharField(max_length=64)
    title = fields.CharField(max_length=300)
    message = fields.TextField(default="")
    payload = fields.JSONField(default=dict)
    source_key = fields.CharField(max_length=200, null=True, unique=True)
    read_at = fields.DatetimeField(null=True)
    created_at = created_at()

    class Meta:
        table = "notifications"
