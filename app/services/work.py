"""Tasks and notifications: the to-do list the pipeline fills for the people who sell, and the
tasks they write themselves.

A task's reminder is a notification to its assignee at the due time: a deferred job per due time
(`reminder_key`), and a catch-up cron for what Redis lost; the notification's unique `source_key`
makes it once per due time whatever runs twice. Rescheduling makes a new due time (a new reminder);
the old job finds the time changed and does nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Case, Q, When
from tortoise.transactions import in_transaction

from app.domain.enums import TaskPriority, TaskStatus
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import (
    NotificationCreated,
    NotificationRead,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskReopened,
    TaskUpdated,
)
from app.models import Account, Notification, Opportunity, Task
from app.queries.visibility import Scope, account_filter, opportunity_filter, task_filter
from app.services.changelog import reassignment, recorded_change
from app.services.common import Checks, check_grantee, strip_text
from app.services.events import Outbox, columns
from app.services.queue import enqueue
from app.services.rows import assign_changes, locked

TASK_FIELDS = {"title", "description", "due_date", "priority", "assignee_id", "opportunity_id", "account_id"}
REMINDER_JOB = "send_task_reminder"
REMINDER_CATCH_UP_WINDOW = timedelta(hours=24)
REMINDER_SCHEDULE_AHEAD = timedelta(minutes=10)


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
                before = columns(task)
                task.status, task.completed_at = target, completed_at
                await outbox.record(event_type(task_id=task.id, opportunity_id=task.opportunity_id),
                                    owner_id=task.assignee_id, actor_id=scope.user_id, account_id=task.account_id,
                                    resource=task, before=before)
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


# Task lists --------------------------------------------------------------------------------

PRIORITY_ORDER = (TaskPriority.LOW, TaskPriority.MEDIUM, TaskPriority.HIGH, TaskPriority.URGENT)


def priority_rank() -> Case:
    """Priority as a number (low 0 … urgent 3), for sorting: the stored values sort alphabetically."""
    return Case(*(When(priority=p.value, then=str(rank)) for rank, p in enumerate(PRIORITY_ORDER)), default="0")


def task_list_filter(*, statuses: list[TaskStatus] | None = None, assignee_id: int | None = None,
                     opportunity_id: int | None = None, account_id: int | None = None,
                     due_after: datetime | None = None, due_before: datetime | None = None,
                     overdue: bool | None = None, now: datetime | None = None) -> Q:
    """The list filters of `tasks` (within what the caller may see, applied separately)."""
    q = Q()
    if statuses:
        q &= Q(status__in=statuses)
    if assignee_id is not None:
        q &= Q(assignee_id=assignee_id)
    if opportunity_id is not None:
        q &= Q(opportunity_id=opportunity_id)
    if account_id is not None:
        q &= Q(account_id=account_id)
    if due_after is not None:
        q &= Q(due_date__gte=due_after)
    if due_before is not None:
        q &= Q(due_date__lt=due_before)
    if overdue is not None:
        moment = now or datetime.now(timezone.utc)
        # Spelled out both ways: NOT (… due_date < now) would drop the tasks with no due date (NULL).
        q &= (Q(status=TaskStatus.OPEN, due_date__lt=moment) if overdue else
              Q(status__not=TaskStatus.OPEN) | Q(due_date__isnull=True) | Q(due_date__gte=moment))
    return q


# Tasks people write ------------------------------------------------------------------------


def reminder_key(task_id: int, due: datetime) -> str:
    """Job id of the reminder job, and source_key of the notification it creates."""
    return f"reminder:{task_id}:{int(due.timestamp())}"


async def _check_task(checks: Checks, scope: Scope, data: dict, *, creating: bool, task: Task | None = None) -> None:
    """Field checks; fills account_id from the opportunity (a task on a deal is on its account)."""
    strip_text(data, "title", "description")
    checks.required_text(data, "title", required=creating)
    if data.get("title") and len(data["title"]) > 300:
        checks.add("title", "at most 300 characters", ErrorCode.OUT_OF_RANGE)
    if "description" in data and data["description"] is None:
        data["description"] = ""
    if "priority" in data and data["priority"] is None:
        checks.add("priority", "is required", ErrorCode.REQUIRED)
    if data.get("due_date") is not None and data["due_date"].tzinfo is None:
        checks.add("due_date", "must include a time zone (e.g. 2027-01-29T09:00:00Z)", ErrorCode.INVALID)
    if "assignee_id" in data:
        if data["assignee_id"] is None:
            checks.add("assignee_id", "is required", ErrorCode.REQUIRED)
        else:
            await check_grantee(checks, scope, data["assignee_id"], "assignee_id")
    opportunity_account = None
    if data.get("opportunity_id") is not None:
        row = await Opportunity.filter(opportunity_filter(scope), id=data["opportunity_id"]).first()
        if row is None:
            checks.add("opportunity_id", "opportunity not found", ErrorCode.NOT_FOUND)
        else:
            opportunity_account = row.account_id
    if data.get("account_id") is not None and not await Account.filter(account_filter(scope), id=data["account_id"]).exists():
        checks.add("account_id", "account not found", ErrorCode.NOT_FOUND)
    if opportunity_account is not None:
        account_id = data.get("account_id", task.account_id if task else None)
        if account_id is not None and account_id != opportunity_account and "account_id" in data:
            checks.add("account_id", "the opportunity is on another account", ErrorCode.INVALID)
        data["account_id"] = opportunity_account


async def create_task(scope: Scope, data: dict) -> Task:
    data = {k: v for k, v in data.items() if k in TASK_FIELDS}
    data.setdefault("assignee_id", scope.user_id)
    checks = Checks()
    await _check_task(checks, scope, data, creating=True)
    checks.raise_if_any()
    async with recorded_change() as outbox:
        task = await Task.create(**{k: v for k, v in data.items() if k in TASK_FIELDS and v is not None})
        await outbox.record(TaskCreated(task_id=task.id, title=task.title, opportunity_id=task.opportunity_id),
                            owner_id=task.assignee_id, account_id=task.account_id, actor_id=scope.user_id,
                            resource=task)
    await schedule_reminder(task)
    return task


async def update_task(scope: Scope, task_id: int, data: dict) -> Task:
    """Under a row lock; an update that changes nothing writes nothing and records no event."""
    if not await Task.filter(task_filter(scope), id=task_id).exists():
        raise ValidationFailed.single("id", "task not found", ErrorCode.NOT_FOUND)
    data = {k: v for k, v in data.items() if k in TASK_FIELDS}
    checks = Checks()
    current = await Task.get(id=task_id)
    await _check_task(checks, scope, data, creating=False, task=current)
    checks.raise_if_any()
    async with recorded_change() as outbox:
        task = await locked(Task, task_id)
        before = {name: getattr(task, name) for name in TASK_FIELDS}
        before_columns = columns(task)
        if assign_changes(task, data, TASK_FIELDS):
            await task.save()
            changed = sorted(name for name in TASK_FIELDS if getattr(task, name) != before[name])
            await outbox.record(TaskUpdated(task_id=task.id, opportunity_id=task.opportunity_id, fields=changed,
                                            **reassignment(before["assignee_id"], task.assignee_id)),
                                owner_id=task.assignee_id, account_id=task.account_id, actor_id=scope.user_id,
                                resource=task, before=before_columns)
    if task.due_date is not None and task.due_date != before["due_date"]:
        await schedule_reminder(task)
    return task


async def delete_task(scope: Scope, task_id: int) -> int:
    task = await Task.filter(task_filter(scope), id=task_id).first()
    if task is None:
        raise ValidationFailed.single("id", "task not found", ErrorCode.NOT_FOUND)
    async with recorded_change() as outbox:
        # Of concurrent deletes one removes the row and records the event; the others answer the same.
        if await Task.filter(id=task.id).delete():
            await outbox.record(TaskDeleted(task_id=task.id, opportunity_id=task.opportunity_id),
                                owner_id=task.assignee_id, account_id=task.account_id, actor_id=scope.user_id,
                                resource=task)
    return task_id


# Reminders -------------------------------------------------------------------------------


async def schedule_reminder(task: Task) -> bool:
    """Queue the reminder for the due time; False when there is none or Redis is down (the catch-up
    cron covers that)."""
    if task.due_date is None or task.status is not TaskStatus.OPEN:
        return False
    due = task.due_date.replace(microsecond=0)
    return await enqueue(REMINDER_JOB, task.id, int(due.timestamp()), job_id=reminder_key(task.id, due), defer_until=due)


async def send_reminder(task_id: int, due_at: int, now: datetime | None = None) -> str:
    """The reminder job: created, already_done, outdated (rescheduled, done or gone) or not_due."""
    now = now or datetime.now(timezone.utc)
    task = await Task.get_or_none(id=task_id)
    if task is None or task.due_date is None or task.status is not TaskStatus.OPEN:
        return "outdated"
    due = task.due_date.replace(microsecond=0)
    if int(due.timestamp()) != due_at:
        return "outdated"
    if due > now:
        return "not_due"
    key = reminder_key(task.id, due)
    try:
        async with recorded_change() as outbox:
            notification = await Notification.create(
                user_id=task.assignee_id, kind="task_due", title=f"Task due: {task.title}"[:300],
                message=task.description or task.title,
                payload={"taskId": task.id, "opportunityId": task.opportunity_id, "accountId": task.account_id,
                         "dueDate": due.isoformat()},
                source_key=key)
            await outbox.record(NotificationCreated(notification_id=notification.id), owner_id=task.assignee_id,
                                account_id=task.account_id)
    except IntegrityError:  # sent already (the unique source_key), by this job's twin or the catch-up
        return "already_done"
    return "created"


async def catch_up_reminders(now: datetime | None = None) -> int:
    """Reminders due in the last 24 hours and not sent are sent now; those due in the next 10 minutes
    are (re)queued (a no-op when their job exists). Returns how many were sent or queued."""
    now = now or datetime.now(timezone.utc)
    rows: list[Any] = await Task.filter(status=TaskStatus.OPEN, due_date__gt=now - REMINDER_CATCH_UP_WINDOW,
                                        due_date__lte=now + REMINDER_SCHEDULE_AHEAD)
    keys = {reminder_key(t.id, t.due_date.replace(microsecond=0)): t for t in rows}
    sent = set(cast("list[str]", await Notification.filter(source_key__in=list(keys)).values_list("source_key", flat=True))) \
        if keys else set()
    handled = 0
    for key, task in keys.items():
        if key in sent:
            continue
        due = task.due_date.replace(microsecond=0)
        if due <= now:
            handled += await send_reminder(task.id, int(due.timestamp()), now) == "created"
        else:
            handled += await schedule_reminder(task)
    return handled
