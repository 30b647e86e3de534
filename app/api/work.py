"""GraphQL for a rep's work queue: tasks, notifications and the mail the system sent."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Optional, cast

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import SortDirection
from app.api.errors import deleting, input_data, parse_id, require_scope, run_mutation, top_level_error
from app.api.user_input import bad_user_input
from app.api.inputs import not_null
from app.api.relay import Connection, page_connection
from app.domain.global_ids import globalize_ids
from app.api.types import Account, Node, Opportunity, User, UserError
from app.domain.enums import Role, TaskPriority as TaskPriorityEnum, TaskStatus as TaskStatusEnum
from app.domain.errors import ValidationFailed
from app.services import work
from app.queries.changelog import updated_since_filter
from app.services.work import task_filter

# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
TaskPriority = TaskPriorityEnum
strawberry.enum(TaskPriority)
TaskStatus = TaskStatusEnum
strawberry.enum(TaskStatus)
ID = strawberry.ID


@strawberry.type
class Task(Node):
    title: str
    description: str
    due_date: Optional[datetime]
    priority: TaskPriority
    status: TaskStatus
    completed_at: Optional[datetime]
    created_at: datetime
    # The row's foreign keys (`self` is the Task row: see app/api/types.py).
    assignee_id: strawberry.Private[int]
    opportunity_id: strawberry.Private[Optional[int]]
    account_id: strawberry.Private[Optional[int]]

    @strawberry.field(description="Open and past its due date.")
    def is_overdue(self) -> bool:
        return (self.status is TaskStatus.OPEN and self.due_date is not None
                and self.due_date < datetime.now(timezone.utc))

    @strawberry.field
    async def assignee(self, info: CtxInfo) -> User:
        return await info.context.loaders.user.load(self.assignee_id)

    @strawberry.field
    async def opportunity(self, info: CtxInfo) -> Optional[Opportunity]:
        if not self.opportunity_id:
            return None
        return await info.context.loaders.opportunity.load(self.opportunity_id)

    @strawberry.field(description="The account the task is for (a task on a deal is on the deal's account).")
    async def account(self, info: CtxInfo) -> Optional[Account]:
        if not self.account_id:
            return None
        return await info.context.loaders.account.load(self.account_id)


@strawberry.type
class TaskConnection(Connection[Task]):
    """Tasks, a page at a time: named so that app/api/types.py (Opportunity.tasks) can refer to it lazily."""


@strawberry.type
class Notification(Node):
    kind: str
    title: str
    message: str
    read_at: Optional[datetime]
    created_at: datetime

    @strawberry.field(description="What it is about: the records it names, by their global ids.")
    def payload(self) -> JSON:
        return globalize_ids(cast(m.Notification, self).payload)


@strawberry.type
class OutgoingMail(Node):
    to_address: str
    subject: str
    body: str
    status: str
    error: Optional[str]
    has_invite: bool = strawberry.field(resolver=lambda root: bool(root.ics))
    sent_at: Optional[datetime]
    created_at: datetime


@strawberry.enum
class TaskSortField(Enum):
    DUE_DATE = "due_date"
    PRIORITY = "priority_rank"
    CREATED_AT = "created_at"


@strawberry.input
class TaskSort:
    field: TaskSortField = TaskSortField.DUE_DATE
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class CreateTaskInput:
    title: str
    description: str = ""
    due_date: Optional[datetime] = None
    priority: TaskPriority = TaskPriority.MEDIUM
    assignee_id: Optional[ID] = strawberry.field(default=UNSET, description="Default: you. Anyone in your scope.")
    opportunity_id: Optional[ID] = None
    account_id: Optional[ID] = strawberry.field(default=None, description="Default: the opportunity's account.")


@strawberry.input
class UpdateTaskInput:
    title: Optional[str] = not_null()
    description: Optional[str] = UNSET
    due_date: Optional[datetime] = strawberry.field(default=UNSET, description="Reschedule (null: no due date).")
    priority: Optional[TaskPriority] = not_null()
    assignee_id: Optional[ID] = not_null("Reassign, within your scope.")
    opportunity_id: Optional[ID] = UNSET
    account_id: Optional[ID] = UNSET


@strawberry.type
class DeleteTaskPayload:
    deleted_id: Optional[ID] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class TaskFilter:
    status: Optional[list[TaskStatus]] = None
    assignee_id: Optional[ID] = None
    opportunity_id: Optional[ID] = None
    account_id: Optional[ID] = None
    due_after: Optional[datetime] = strawberry.field(default=None, description="Due at or after this moment.")
    due_before: Optional[datetime] = strawberry.field(default=None, description="Due before this moment.")
    overdue: Optional[bool] = strawberry.field(
        default=None, description="true: open and past due; false: everything else.")
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")


@strawberry.type
class TaskPayload:
    task: Optional[Task] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationPayload:
    notification: Optional[Notification] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WorkQuery:
    @strawberry.field(description="Tasks you may see (yours; your reps' when you manage them). Without `sort`: "
                                  "newest first; sorted by due date, tasks without one come last.")
    async def tasks(self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
                    filter: Optional[TaskFilter] = None, sort: Optional[TaskSort] = None) -> TaskConnection:
        scope = require_scope(info)
        qs = m.Task.filter(task_filter(scope))
        if filter:
            try:
                qs = qs.filter(work.task_list_filter(
                    statuses=filter.status, assignee_id=_id(filter.assignee_id, "assignee_id"),
                    opportunity_id=_id(filter.opportunity_id, "opportunity_id"),
                    account_id=_id(filter.account_id, "account_id"), due_after=filter.due_after,
                    due_before=filter.due_before, overdue=filter.overdue))
            except ValidationFailed as exc:
                raise bad_user_input(exc) from None
            if filter.updated_since:
                qs = qs.filter(updated_since_filter(filter.updated_since))
        if sort is None:
            connection = await page_connection(qs, first, after, "id", SortDirection.DESC)
        elif sort.field is TaskSortField.PRIORITY:
            qs = qs.annotate(priority_rank=work.priority_rank())
            connection = await page_connection(qs, first, after, "priority_rank", sort.direction)
        else:
            connection = await page_connection(qs, first, after, sort.field.value, sort.direction,
                                               nulls_last=sort.field is TaskSortField.DUE_DATE)
        return cast(TaskConnection, connection)

    @strawberry.field(description="The caller's own notifications, newest first.")
    async def notifications(self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
                            unread_only: bool = False) -> Connection[Notification]:
        scope = require_scope(info)
        qs = m.Notification.filter(user_id=scope.user_id)
        if unread_only:
            qs = qs.filter(read_at__isnull=True)
        return await page_connection(qs, first, after, "id", SortDirection.DESC)

    @strawberry.field(description="Mail the system sent or stored (admins only).")
    async def outgoing_mail(self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None) -> Connection[OutgoingMail]:
        scope = require_scope(info)
        if scope.role is not Role.ADMIN:
            raise top_level_error("only admins can read outgoing mail", "FORBIDDEN")
        return await page_connection(m.OutgoingMail.all(), first, after, "id", SortDirection.DESC)


def _id(value: Optional[ID], field: str) -> int | None:
    return None if value is None else parse_id(value, field)


@strawberry.type
class WorkMutation:
    @strawberry.mutation(description="A task of your own, or for someone in your scope; on a deal and/or an account.")
    async def create_task(self, info: CtxInfo, input: CreateTaskInput) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task", lambda s: work.create_task(s, input_data(input)))

    @strawberry.mutation(description="Reschedule, reassign (within your scope), re-prioritise or edit a task.")
    async def update_task(self, info: CtxInfo, id: ID, input: UpdateTaskInput) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task",
                                  lambda s: work.update_task(s, parse_id(id, "id", "Task"), input_data(input)))

    @strawberry.mutation
    async def delete_task(self, info: CtxInfo, id: ID) -> DeleteTaskPayload:
        return await run_mutation(info, DeleteTaskPayload, "deleted_id",
                                  deleting("Task", lambda s: work.delete_task(s, parse_id(id, "id", "Task"))))

    @strawberry.mutation
    async def complete_task(self, info: CtxInfo, id: ID) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task", lambda s: work.complete_task(s, parse_id(id, "id", "Task")))

    @strawberry.mutation(description="Completed → open again (records task.reopened); an open task is returned unchanged.")
    async def reopen_task(self, info: CtxInfo, id: ID) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task", lambda s: work.reopen_task(s, parse_id(id, "id", "Task")))

    @strawberry.mutation
    async def mark_notification_read(self, info: CtxInfo, id: ID) -> NotificationPayload:
        return await run_mutation(info, NotificationPayload, "notification",
                                  lambda s: work.mark_notification_read(s, parse_id(id, "id", "Notification")))
