"""Tasks and notifications: the to-do list the pipeline fills for the people who sell."""

from __future__ import annotations

from datetime import datetime, timezone

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.domain.enums import TaskStatus
from app.domain.errors import ErrorCode, ValidationFailed
from app.models import Notification, Task
from app.queries.visibility import Scope
from app.services.changelog import recorded_change
from app.services.events import Outbox


def task_filter(scope: Scope) -> Q:
    """Your tasks, and your reps' tasks when you manage them."""
    return Q() if scope.is_admin else Q(assignee_id__in=list(scope.user_ids))


async def complete_task(scope: Scope, task_id: int) -> Task:
    task = await Task.filter(task_filter(scope), id=task_id).first()
    if task is None:
        raise ValidationFailed.single("id", "task not found", ErrorCode.NOT_FOUND)
    if task.status is TaskStatus.COMPLETED:
        return task
    if task.status is TaskStatus.CANCELLED:
        raise ValidationFailed.single("id", "the task was cancelled", ErrorCode.INVALID)
    outbox = Outbox()
    async with in_transaction():
        task.status, task.completed_at = TaskStatus.COMPLETED, datetime.now(timezone.utc)
        await task.save(update_fields=["status", "completed_at", "updated_at"])
        await outbox.record("task.completed", owner_id=task.assignee_id, actor_id=scope.user_id,
                            account_id=task.account_id, payload={"task_id": task.id, "opportunity_id": task.opportunity_id})
    await outbox.publish()
    return task


async def mark_notification_read(scope: Scope, notification_id: int) -> Notification:
    notification = await Notification.filter(id=notification_id, user_id=scope.user_id).first()
    if notification is None:
        raise ValidationFailed.single("id", "notification not found", ErrorCode.NOT_FOUND)
    if notification.read_at is None:
        notification.read_at = datetime.now(timezone.utc)
        async with recorded_change() as outbox:
            await notification.save(update_fields=["read_at"])
            await outbox.record("notification.read", owner_id=notification.user_id, actor_id=scope.user_id,
                                payload={"notification_id": notification.id})
    return notification
