"""GraphQL for a rep's work queue: tasks, notifications and the mail the system sent."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import strawberry
from strawberry.scalars import JSON

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import SortDirection
from app.api.errors import bad_user_input, parse_id, require_scope, run_mutation, top_level_error
from app.api.relay import Connection, page_connection
from app.api.types import Opportunity, User, UserError
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
class Task:
    id: ID
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

    @strawberry.field
    async def assignee(self, info: CtxInfo) -> User:
        return await info.context.loaders.user.load(self.assignee_id)

    @strawberry.field
    async def opportunity(self, info: CtxInfo) -> Optional[Opportunity]:
        if not self.opportunity_id:
            return None
        return await info.context.loaders.opportunity.load(self.opportunity_id)


@strawberry.type
class Notification:
    id: ID
    kind: str
    title: str
    message: str
    payload: JSON
    read_at: Optional[datetime]
    created_at: datetime


@strawberry.type
class OutgoingMail:
    id: ID
    to_address: str
    subject: str
    body: str
    status: str
    error: Optional[str]
    has_invite: bool = strawberry.field(resolver=lambda root: bool(root.ics))
    sent_at: Optional[datetime]
    created_at: datetime


@strawberry.input
class TaskFilter:
    status: Optional[list[TaskStatus]] = None
    assignee_id: Optional[ID] = None
    opportunity_id: Optional[ID] = None
    due_before: Optional[datetime] = None
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
    @strawberry.field
    async def tasks(self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
                    filter: Optional[TaskFilter] = None) -> Connection[Task]:
        scope = require_scope(info)
        qs = m.Task.filter(task_filter(scope))
        if filter:
            try:
                if filter.status:
                    qs = qs.filter(status__in=filter.status)
                if filter.assignee_id:
                    qs = qs.filter(assignee_id=parse_id(filter.assignee_id, "assignee_id"))
                if filter.opportunity_id:
                    qs = qs.filter(opportunity_id=parse_id(filter.opportunity_id, "opportunity_id"))
            except ValidationFailed as exc:
                raise bad_user_input(exc) from None
            if filter.due_before:
                qs = qs.filter(due_date__lt=filter.due_before)
            if filter.updated_since:
                qs = qs.filter(updated_since_filter(filter.updated_since))
        return await page_connection(qs, first, after, "id", SortDirection.DESC)

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


@strawberry.type
class WorkMutation:
    @strawberry.mutation
    async def complete_task(self, info: CtxInfo, id: ID) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task", lambda s: work.complete_task(s, parse_id(id, "id")))

    @strawberry.mutation(description="Completed → open again (records task.reopened); an open task is returned unchanged.")
    async def reopen_task(self, info: CtxInfo, id: ID) -> TaskPayload:
        return await run_mutation(info, TaskPayload, "task", lambda s: work.reopen_task(s, parse_id(id, "id")))

    @strawberry.mutation
    async def mark_notification_read(self, info: CtxInfo, id: ID) -> NotificationPayload:
        return await run_mutation(info, NotificationPayload, "notification",
                                  lambda s: work.mark_notification_read(s, parse_id(id, "id")))
