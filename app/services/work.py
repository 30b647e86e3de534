"""Tasks and notifications: the to-do list the pipeline fills for the people who sell."""

from __future__ import annotations

from datetime import datetime, timezone

from tortoise.transactions import in_transaction

from app.domain.enums import TaskStatus
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import NotificationRead, TaskCompleted, TaskReopened
from app.models import Notification, Task
from app.queries.visibility import Scope, task_filter
from app.services.changelog import recorded_change
from app.services.events import Outbox


async def complete_task(scope: Scope, task_id: int) -> Task:
    """Open → completed, once: of concurrent calls one changes the row and records `task.completed`;
    the others find it completed and answer with it, without a second event."""
    return await _move_task(scope, task_id, TaskStatus.OPEN, TaskStatus.COMPLETED, TaskCompleted)


async def reopen_task(scope: Scope, task_id: int) -> Task:
    """Completed → open, once, with one `task.reopened`; an open task answers unchanged."""
    return await _move_task(scope, task_id, TaskStatus.COMPLETED, TaskStatus.OPEN, TaskReopened)


async def _move_task(scope: Scope, task_id: int, source: TaskStatus, target: TaskStatus,
                     event_type: type[TaskCompleted] | type[TaskReopened]) -> Task:
    task = await Task.filter(task_filter(scope), id=task_id).first()
    if task is None:
        raise ValidationFailed.single("id", "task not found", ErrorCode.NOT_FOUND)
    if task.status is source:
        outbox = Outbox()
        completed_at = datetime.now(timezone.utc) if target is TaskStatus.COMPLETED else None
        async with in_transaction():
            # Compare-and-set: the UPDATE waits for a concurrent one's row lock, then finds the status changed.
            if await Task.filter(id=task.id, status=source).update(status=target, completed_at=completed_at,
                                                                updated_at=datetime.now(timezone.utc)):
                await outbox.record(event_type(task_id=task.id, opportunity_id=task.opportunity_id),
                                    owner_id=task.assignee_id, actor_id=scope.user_id, account_id=task.account_id)
        await outbox.publish()
        await task.refresh_from_db()
    if task.status is TaskStatus.CANCELLED:
        raise ValidationFailed.single("id", "the task was cancelled", ErrorCode.INVALID)
    return task


async def mark_notification_read(scope: Scope, notification_id: int) -> Notification:
    """Sets read_at once (compare-and-set on read_at IS NULL): a repeated or concurrent call keeps the
    first time it was read."""
    notification = await Notification.filter(id=notification_id, user_id=scope.user_id).first()
    if notification is None:
        raise ValidationFailed.single("id", "notification not found", ErrorCode.NOT_FOUND)
    if notification.read_at is None:
        async with recorded_change() as outbox:
            # Compare-and-set: one of concurrent calls marks it read and records the event.
            if await Notification.filter(id=notification.id, read_at__isnull=True).update(read_at=datetime.now(timezone.utc)):
                await outbox.record(NotificationRead(notification_id=notification.id), owner_id=notification.user_id,
                                    actor_id=scope.user_id)
        await notification.refresh_from_db()
    return notification
