"""Stage automations: what the system does on its own when an opportunity enters a stage, stays too
long in it, or meets the next stage's requirements.

Every effect runs in one transaction with an AutomationRun row keyed by (trigger occurrence,
automation): a job that runs twice, or a worker killed and retried, produces each effect once.

The actions are one registry, `ACTIONS`: a class per kind whose `parameters` are the pure rules in
app.domain.pipeline (checked when a stage is configured) and whose `run` is the effect."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, time, timedelta, timezone
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.enums import ActivityType, ChangeSource, StageKind, TaskPriority
from app.domain.invites import meeting_invite
from app.domain.events import (
    ActivityAdded,
    Event,
    NotificationCreated,
    OpportunityUpdated,
    TaskCreated,
    parse_event,
)
from app.domain.pipeline import (
    ACTION_PARAMETERS,
    MAX_AUTOMATION_CHAIN_DEPTH,
    ActionParameters,
    CreateTaskParameters,
    NotifyManagerParameters,
    ScheduleMeetingParameters,
    SendEmailParameters,
    UpdateFieldParameters,
    StageSpec,
    duration_threshold_days,
    next_open_stage,
    unmet_requirements,
)
from app.domain.relative_dates import resolve
from app.models import (
    Account,
    AutomationRun,
    Contact,
    DomainEvent,
    Notification,
    Opportunity,
    OpportunityActivity,
    OutgoingMail,
    PipelineStage,
    Task,
    User,
)
from app.services import mail
from app.services.changelog import touch_opportunity
from app.services.events import Outbox
from app.services.opportunity_writes import lock_opportunity, save_opportunity
from app.services.stages import by_id, gate_facts, stage_specs, to_spec

log = logging.getLogger(__name__)

class _Template(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


async def _template_values(opportunity: Opportunity, stage: StageSpec, owner: User) -> _Template:
    account = await Account.get(id=opportunity.account_id)
    return _Template(opportunity=opportunity.name, account=account.name, stage=stage.name, owner=owner.name,
                     value=str(opportunity.value), expected_close_date=str(opportunity.expected_close_date))


def _render(text: Any, values: _Template) -> str:
    return str(text).format_map(values)


def stage_entry_key(opportunity: Opportunity) -> str:
    """Identifies one stay in a stage: a re-entry later is a new occurrence."""
    return f"{opportunity.id}:{opportunity.stage_id}:{int(opportunity.stage_entered_at.timestamp() * 1_000_000)}"


async def on_opportunity_change(record: DomainEvent, event: Event) -> None:
    """A reaction (app.services.reactions): after a deal entered a stage (a move, or its creation), that
    stage's `stage_entered` automations; after any change that may meet the next stage's requirements, `stage_requirements_met`."""
    if record.opportunity_id is None:
        return
    opportunity = await Opportunity.get_or_none(id=record.opportunity_id)
    if opportunity is None:
        return
    stages = await stage_specs(opportunity.pipeline_id)
    stage = by_id(stages, opportunity.stage_id)
    if event.entered_stage == stage.key:  # moved into the stage, or created in it (and still there)
        for index, automation in enumerate(stage.automations):
            if automation.get("trigger") == "stage_entered":
                await run_automation(opportunity, stage, index, automation,
                                     key=f"entered:{record.id}:{index}", event=record)
    if event.MAY_MEET_REQUIREMENTS:
        await check_requirements_met(opportunity, stages, record)


async def process_event(record: DomainEvent) -> None:
    """The automations' reaction to one logged event (the worker runs it through the reactions table)."""
    event = parse_event(record.kind, record.payload)
    if event is not None:
        await on_opportunity_change(record, event)


async def check_requirements_met(opportunity: Opportunity, stages: list[StageSpec], event: DomainEvent | None) -> None:
    stage = by_id(stages, opportunity.stage_id)
    autos = [(i, a) for i, a in enumerate(stage.automations) if a.get("trigger") == "stage_requirements_met"]
    following = next_open_stage(stages, stage)
    if not autos or following is None:
        return
    facts = await gate_facts(opportunity)
    if unmet_requirements(stages, stage, following, facts):
        return
    for index, automation in autos:
        await run_automation(opportunity, stage, index, automation,
                             key=f"reqmet:{stage_entry_key(opportunity)}:{index}", event=event)


async def scan_stage_durations(now: datetime | None = None) -> int:
    """Cron: fire `stage_duration_exceeded` once per opportunity per stage entry."""
    now = now or datetime.now(timezone.utc)
    fired = 0
    for stage_row in await PipelineStage.filter(kind=StageKind.OPEN):
        stage = to_spec(stage_row)
        for index, automation in enumerate(stage.automations):
            if automation.get("trigger") != "stage_duration_exceeded":
                continue
            threshold = duration_threshold_days(stage, automation)
            if threshold <= 0:
                continue
            overdue = await Opportunity.filter(stage_id=stage.id, stage_entered_at__lte=now - timedelta(days=threshold))
            keys = {f"duration:{stage_entry_key(o)}:{index}": o for o in overdue}
            # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the keys themselves.
            done = set(cast("list[str]", await AutomationRun.filter(key__in=list(keys)).values_list("key", flat=True))) \
                if keys else set()
            for key, opportunity in keys.items():
                if key not in done and await run_automation(opportunity, stage, index, automation, key=key, event=None):
                    fired += 1
    return fired


async def run_automation(opportunity: Opportunity, stage: StageSpec, index: int, automation: dict, *,
                         key: str, event: DomainEvent | None) -> bool:
    """Run one automation once for `key`; returns True when this call produced its effect."""
    existing = await AutomationRun.get_or_none(key=key)
    if existing is not None:
        await _finish(existing.detail)  # e.g. a worker killed between the commit and the SMTP send
        return False
    action, trigger = automation["action"], automation["trigger"]
    run_fields = dict(key=key, opportunity_id=opportunity.id, trigger=trigger, action=action,
                      event_id=event.id if event else None)
    if event is not None and event.chain_depth >= MAX_AUTOMATION_CHAIN_DEPTH:
        log.warning("automation loop guard: chain of %d events stopped at %s (event %s)",
                    event.chain_depth, key, event.id)
        with contextlib.suppress(IntegrityError):  # stopped before, by a run of the same job
            await AutomationRun.create(status="loop_stopped", detail={"chain_depth": event.chain_depth}, **run_fields)
        return False
    outbox = Outbox(caused_by=event)
    try:
        async with in_transaction():
            detail = await ACTIONS[action].run(opportunity, stage, automation.get("parameters", {}), key, outbox)
            # The run's row is the once-only guard: written last, in the effect's transaction, a
            # concurrent duplicate fails on its unique key here and its whole effect rolls back.
            detail = detail or {}
            run = await AutomationRun.create(**run_fields, status=detail.pop("status", "done"), detail=detail)
    except IntegrityError:
        return False  # a concurrent run of the same job got there first
    await outbox.publish()
    await _finish(run.detail)
    return True


async def _finish(detail: dict) -> None:
    """Work outside the transaction: sending the stored mail (a failure makes the job retry)."""
    if detail.get("mail_id"):
        await mail.deliver(detail["mail_id"])


# Actions ------------------------------------------------------------------------------


async def _owner(opportunity: Opportunity) -> User:
    return await User.get(id=opportunity.assigned_to_id)


Effect = Callable[[Opportunity, StageSpec, dict, str, Outbox], Awaitable[dict]]


@dataclass(frozen=True)
class AutomationAction:
    """One action kind: its parameter rules (pure, app.domain.pipeline) and its effect."""

    parameters: type[ActionParameters]
    run: Effect


# The registry, keyed by action kind; filled by @action below, checked complete at the end.
ACTIONS: dict[str, AutomationAction] = {}


def action(parameters: type[ActionParameters]) -> Callable[[Effect], Effect]:
    def register(effect: Effect) -> Effect:
        ACTIONS[parameters.KIND] = AutomationAction(parameters, effect)
        return effect
    return register


@action(CreateTaskParameters)
async def create_task(opportunity, stage, params, key, outbox) -> dict:
    owner = await _owner(opportunity)
    values = await _template_values(opportunity, stage, owner)
    now = datetime.now(timezone.utc)
    assignee_id = owner.id
    if params.get("assignee") == "manager" and owner.manager_id:
        assignee_id = owner.manager_id
    task = await Task.create(
        title=_render(params["title"], values), description=_render(params.get("description", ""), values),
        due_date=resolve(params["dueDate"], now, owner.timezone) if params.get("dueDate") else None,
        priority=TaskPriority(params.get("priority", "medium")), assignee_id=assignee_id,
        opportunity_id=opportunity.id, account_id=opportunity.account_id, source_key=key,
    )
    await outbox.record(TaskCreated(task_id=task.id, title=task.title, opportunity_id=opportunity.id),
                        opportunity=opportunity, owner_id=assignee_id, resource=task)
    return {"task_id": task.id}


async def _recipient(opportunity: Opportunity, owner: User, who: str) -> str | None:
    if who == "owner":
        return owner.email
    if who == "manager":
        manager = await User.get_or_none(id=owner.manager_id) if owner.manager_id else None
        return manager.email if manager else None
    contact = await Contact.get_or_none(id=opportunity.contact_id) if opportunity.contact_id else None
    return contact.email if contact and contact.email else None


@action(SendEmailParameters)
async def send_email(opportunity, stage, params, key, outbox) -> dict:
    owner = await _owner(opportunity)
    values = await _template_values(opportunity, stage, owner)
    to = await _recipient(opportunity, owner, params.get("to", "contact"))
    if to is None:
        return {"status": "skipped", "reason": f"no {params.get('to', 'contact')} email address"}
    record = await OutgoingMail.create(to_address=to, subject=_render(params["subject"], values),
                                       body=_render(params["body"], values), source_key=key,
                                       opportunity_id=opportunity.id)
    return {"mail_id": record.id}


@action(ScheduleMeetingParameters)
async def schedule_meeting(opportunity, stage, params, key, outbox) -> dict:
    owner = await _owner(opportunity)
    values = await _template_values(opportunity, stage, owner)
    now = datetime.now(timezone.utc)
    hour, minute = (int(p) for p in str(params.get("time", "10:00")).split(":"))
    start = resolve(params["when"], now, owner.timezone, at=time(hour, minute))
    duration = int(params.get("durationMinutes", 30))
    subject = _render(params.get("subject", "Meeting: {opportunity}"), values)
    description = _render(params.get("description", ""), values)
    activity = await OpportunityActivity.create(
        opportunity_id=opportunity.id, type=ActivityType.MEETING, subject=subject, description=description,
        scheduled_at=start,
    )
    detail: dict[str, Any] = {"activity_id": activity.id, "starts_at": start.isoformat()}
    attendee = await _recipient(opportunity, owner, "contact")
    if attendee:
        ics = meeting_invite(uid=f"{key}@kitchenpantry.crm", summary=subject, description=description, start=start,
                             duration_minutes=duration, organizer_email=owner.email, attendee_email=attendee, now=now)
        invite = await OutgoingMail.create(
            to_address=attendee, subject=f"Invitation: {subject}", ics=ics, source_key=f"{key}:invite",
            body=f"{owner.name} invites you to \"{subject}\" on {start.isoformat()} (UTC).\n\n{description}",
            opportunity_id=opportunity.id,
        )
        detail["mail_id"] = invite.id
    await touch_opportunity(opportunity)  # a new child moves its opportunity (change log)
    await outbox.record(ActivityAdded(activity_id=activity.id, type="meeting", scheduled=True), opportunity=opportunity,
                        resource=activity)
    return detail


@action(UpdateFieldParameters)
async def update_field(opportunity, stage, params, key, outbox) -> dict:
    field, value = params["field"], params["value"]
    if field == "expected_close_date":
        owner = await _owner(opportunity)
        value = resolve(value, datetime.now(timezone.utc), owner.timezone).date()
    # The one way to write an opportunity: the locked current row, compare-and-set, its event.
    current = await lock_opportunity(opportunity.id)
    await save_opportunity(current, {field: value}, outbox,
                           lambda diff: OpportunityUpdated(changes=diff, source="automation"),
                           source=ChangeSource.AUTOMATION)
    setattr(opportunity, field, value)
    opportunity.version = current.version
    return {"field": field, "value": str(value)}


@action(NotifyManagerParameters)
async def notify_manager(opportunity, stage, params, key, outbox) -> dict:
    owner = await _owner(opportunity)
    values = await _template_values(opportunity, stage, owner)
    # Without a manager the owner is told instead: the alert must reach somebody.
    recipient_id = owner.manager_id or owner.id
    notification = await Notification.create(
        user_id=recipient_id, kind=f"automation.{stage.key}",
        title=_render(params.get("title", "{opportunity}: {stage}"), values),
        message=_render(params["message"], values),
        payload={"opportunity_id": opportunity.id, "stage": stage.key}, source_key=key,
    )
    await outbox.record(NotificationCreated(notification_id=notification.id), opportunity=opportunity,
                        owner_id=recipient_id)
    return {"notification_id": notification.id, "user_id": recipient_id}


if set(ACTIONS) != set(ACTION_PARAMETERS):  # a configured kind without an effect, or the reverse
    raise RuntimeError(f"automation actions out of step: rules for {sorted(ACTION_PARAMETERS)}, "
                       f"effects for {sorted(ACTIONS)}")
