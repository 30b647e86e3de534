"""Customer interactions: everything that happens when one is recorded or changed, the follow-up
jobs it schedules, and the insights read from an account's interactions.

Recording an interaction, in one transaction: the interaction with its sentiment (VADER with a
food-service lexicon and rules, see app.domain.sentiment; the competitors' names are read for it in
one query), its participants (the main contact included) and the account's
last_activity_date, and — on a deal — its one linked deal activity (app.domain.contact_log: an
activity of a contact type logged as done is recorded here too, so the two never drift). After the
commit: the follow-up job if followUpDate is set, and a debounced health recomputation.

Follow-ups: one deferred arq job per (interaction, follow-up time), job id
"followup:<interaction id>:<epoch seconds>". Changing the date aborts the old job and queues a new
one; clearing it aborts it. The job re-reads the interaction and does nothing unless its follow-up
date is still the one it was scheduled for; it creates the Task and the Notification with that job
id as source_key, so running it twice creates them once. A cron every 5 minutes catches up on
follow-ups whose job could not be queued (Redis down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta, timezone
from typing import cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from app.domain.contact_log import (
    ACTIVITY_FOR_INTERACTION,
    INTERACTION_FOR_ACTIVITY,
    SHARED_FIELDS,
    owned_by_interaction,
    records_contact,
)
from app.domain.enums import ActivityType, InteractionType
from app.domain.errors import ErrorCode, FieldError, ValidationFailed
from app.domain.events import InteractionRecorded, InteractionUpdated, NotificationCreated, TaskCreated
from app.domain.interactions import (
    PeriodComparison,
    ResponseTimes,
    WeekTrend,
    compare,
    previous_period,
    recommendations,
    response_times,
    weekly_trends,
)
from app.domain.sentiment import sentiment_label, sentiment_score
from app.domain.timeframes import Timeframe, parse_timeframe
from app.domain.validation import non_negative_error
from app.models import (
    Account,
    Competitor,
    Contact,
    CustomerInteraction,
    InteractionParticipant,
    Notification,
    Opportunity,
    OpportunityActivity,
    Task,
)
from app.queries import interactions as q
from app.queries.visibility import Scope, opportunity_filter
from app.services.changelog import recorded_change
from app.services.accounts import visible_account
from app.services.common import Checks, assign, get_visible, strip_text
from app.services.health import request_health_recompute
from app.services import opportunities as deals
from app.services.events import columns
from app.services.queue import abort, enqueue

log = logging.getLogger(__name__)

FOLLOW_UP_JOB = "run_follow_up"
CATCH_UP_WINDOW = timedelta(hours=24)
SCHEDULE_AHEAD = timedelta(minutes=10)
MAX_ATTACHMENTS = 20

EDITABLE_FIELDS = {"subject", "description", "outcome", "next_steps", "follow_up_date", "duration_minutes",
                   "location", "attachments"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _seconds(moment: datetime) -> datetime:
    """Follow-up dates are kept to the second: the job id names the exact moment."""
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def follow_up_key(interaction_id: int, when: datetime) -> str:
    """Job id of the follow-up job, and source_key of the Task and Notification it creates."""
    return f"followup:{interaction_id}:{int(when.timestamp())}"


# Validation --------------------------------------------------------------------------------


def _check_fields(checks: Checks, data: dict, now: datetime, *, creating: bool) -> None:
    strip_text(data, "subject", "description", "location", "next_steps")
    checks.required_text(data, "subject", required=creating)
    for field in ("description", "location", "next_steps"):
        if field in data and data[field] is None:
            data[field] = ""
    if "attachments" in data and data["attachments"] is None:
        data["attachments"] = []
    checks.check("duration", non_negative_error(data.get("duration")), ErrorCode.OUT_OF_RANGE)
    if "duration" in data:
        data["duration_minutes"] = data.pop("duration")
    if data.get("follow_up_date") is not None:
        data["follow_up_date"] = _seconds(data["follow_up_date"])
        if data["follow_up_date"] <= now:
            checks.add("follow_up_date", "must be in the future", ErrorCode.OUT_OF_RANGE)
    if "attachments" in data:
        attachments = [(a or "").strip() for a in data["attachments"]]
        if len(attachments) > MAX_ATTACHMENTS:
            checks.add("attachments", f"at most {MAX_ATTACHMENTS} attachments", ErrorCode.OUT_OF_RANGE)
        if not all(attachments):
            checks.add("attachments", "must not contain blank entries", ErrorCode.REQUIRED)
        data["attachments"] = attachments


async def _check_people(checks: Checks, account_id: int, contact_id: int | None, participants: list[dict]) -> None:
    wanted = {p["contact_id"] for p in participants} | ({contact_id} if contact_id else set())
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
    on_account = set(cast("list[int]", await Contact.filter(id__in=list(wanted), account_id=account_id)
                          .values_list("id", flat=True))) if wanted else set()
    if contact_id is not None and contact_id not in on_account:
        checks.add("contact_id", "contact not found on this account", ErrorCode.NOT_FOUND)
    seen: set[int] = set()
    for p in participants:
        if p["contact_id"] not in on_account:
            checks.add("participants", f"contact {p['contact_id']} not found on this account", ErrorCode.NOT_FOUND)
        elif p["contact_id"] in seen:
            checks.add("participants", f"contact {p['contact_id']} is listed twice", ErrorCode.DUPLICATE)
        seen.add(p["contact_id"])


# Recording ---------------------------------------------------------------------------------


async def _score_sentiment(interaction: CustomerInteraction) -> None:
    """A complaint about a named competitor is a buying signal, about us a risk: the names come from the
    competitors table (one query)."""
    competitors = cast(list[str], await Competitor.all().values_list("name", flat=True))
    interaction.sentiment = sentiment_score(interaction.subject, interaction.description, competitors=competitors)
    interaction.sentiment_label = sentiment_label(interaction.sentiment).value


async def record_interaction(scope: Scope, data: dict, now: datetime | None = None, *,
                             deal_side: "DealSide | None" = None) -> CustomerInteraction:
    """`deal_side`: the activity this contact was logged as (app.domain.contact_log), whose deal the
    caller may see; by default a deal's side is a new activity of the interaction's type."""
    now = now or _now()
    account = (await Account.get(id=data["account_id"]) if deal_side is not None
               else await visible_account(scope, data.get("account_id")))
    checks = Checks()
    _check_fields(checks, data, now, creating=True)
    if data.get("type") is None:
        checks.add("type", "is required", ErrorCode.REQUIRED)
    occurred_at = data.get("occurred_at") or now
    if occurred_at > now:
        checks.add("occurred_at", "cannot be in the future", ErrorCode.OUT_OF_RANGE)
    participants = data.get("participants") or []
    await _check_people(checks, account.id, data.get("contact_id"), participants)
    opportunity_id = data.get("opportunity_id")
    if opportunity_id is not None and deal_side is None and not await Opportunity.filter(
            opportunity_filter(scope), id=opportunity_id, account_id=account.id).exists():
        checks.add("opportunity_id", "opportunity not found on this account", ErrorCode.NOT_FOUND)
    checks.raise_if_any()

    interaction = CustomerInteraction(
        account_id=account.id, contact_id=data.get("contact_id"), opportunity_id=opportunity_id,
        type=data["type"], occurred_at=occurred_at, created_by_id=scope.user_id,
    )
    if data.get("direction") is not None:
        interaction.direction = data["direction"]
    assign(interaction, {k: v for k, v in data.items() if v is not None}, EDITABLE_FIELDS)
    await _score_sentiment(interaction)
    async with recorded_change() as outbox:
        await interaction.save()
        await _add_participants(interaction, data.get("contact_id"), participants)
        await Account.filter(Q(last_activity_date__isnull=True) | Q(last_activity_date__lt=occurred_at),
                             id=account.id).update(last_activity_date=occurred_at)
        await _interaction_event(outbox, InteractionRecorded, interaction, scope.user_id)
        if opportunity_id is not None:
            await _write_deal_side(interaction, deal_side or DealSide(), outbox, scope.user_id)
    if interaction.follow_up_date is not None:
        await schedule_follow_up(interaction.id, interaction.follow_up_date)
    await request_health_recompute(account.id)
    return interaction


async def _interaction_event(outbox, event_type: type[InteractionRecorded], interaction: CustomerInteraction,
                             actor_id: int, before: dict | None = None) -> None:
    """Interactions follow their account: the event carries the account's owner."""
    owner_id = await Account.filter(id=interaction.account_id).values_list("assigned_to_id", flat=True)
    await outbox.record(event_type(interaction_id=interaction.id), account_id=interaction.account_id,
                        resource=interaction, before=before,
                        owner_id=owner_id[0] if owner_id else None, actor_id=actor_id)


@dataclass
class DealSide:
    """The deal activity a contact is logged as: an existing one (marked done now) or a new one, of the
    given type (default: the interaction's), with the activity fields only it has."""
    activity: OpportunityActivity | None = None
    type: ActivityType | None = None
    extra: dict = dataclass_field(default_factory=dict)


async def _write_deal_side(interaction: CustomerInteraction, side: DealSide, outbox, actor_id: int) -> None:
    """In the interaction's transaction: its one deal activity, linked to it and saying what it says."""
    activity = side.activity or OpportunityActivity(opportunity_id=interaction.opportunity_id, created_by_id=actor_id)
    activity.interaction_id = interaction.id
    await deals.write_activity(activity, {
        **side.extra, "type": side.type or ACTIVITY_FOR_INTERACTION[InteractionType(interaction.type)],
        "subject": interaction.subject, "description": interaction.description, "outcome": interaction.outcome,
        "next_steps": interaction.next_steps, "completed_at": interaction.occurred_at,
    }, outbox, creating=side.activity is None, actor_id=actor_id)


async def _follow_on_the_deal(interaction: CustomerInteraction, outbox, actor_id: int) -> None:
    """In the interaction's transaction: the shared text of its linked activity follows it."""
    activity = await OpportunityActivity.get_or_none(interaction_id=interaction.id)
    if activity is None:
        return
    shared = {name: getattr(interaction, name) for name in SHARED_FIELDS}
    if any(getattr(activity, name) != value for name, value in shared.items()):
        await deals.write_activity(activity, shared, outbox, creating=False, actor_id=actor_id)


# Deal activities: deal work, or the deal's side of a customer contact -------------------------


def _as_contact(opportunity: Opportunity, activity_type: ActivityType, state: dict) -> dict:
    """The interaction a deal activity of a contact type records: with the deal's account and contact."""
    return {
        "account_id": opportunity.account_id, "contact_id": opportunity.contact_id, "opportunity_id": opportunity.id,
        "type": INTERACTION_FOR_ACTIVITY[activity_type], "occurred_at": state["completed_at"],
        **{name: state.get(name) for name in SHARED_FIELDS},
    }


async def add_deal_activity(scope: Scope, data: dict) -> OpportunityActivity:
    """addOpportunityActivity: deal work is written as it is; a contact logged as done is recorded as
    its interaction, which writes this activity (one of each)."""
    opportunity = await deals.visible_opportunity(scope, data.get("opportunity_id"))
    deals.check_activity(data, creating=True)
    if not records_contact(data.get("type"), data.get("completed_at")):
        return await deals.add_activity(scope, data)
    activity_type = ActivityType(data["type"])
    interaction = await record_interaction(scope, _as_contact(opportunity, activity_type, data), deal_side=DealSide(
        type=activity_type, extra={"scheduled_at": data.get("scheduled_at")}))
    return await OpportunityActivity.get(interaction_id=interaction.id)


async def update_deal_activity(scope: Scope, activity_id: int, data: dict) -> OpportunityActivity:
    """updateOpportunityActivity. A linked activity's shared text is edited through its interaction;
    its type and dates are the interaction's. An activity that becomes a done contact records one."""
    activity = await deals.visible_activity(scope, activity_id)
    deals.check_activity(data, creating=False)
    if activity.interaction_id is not None:
        owned = owned_by_interaction({k: v for k, v in data.items() if getattr(activity, k) != v})
        if owned:
            raise ValidationFailed([FieldError(name, "a logged customer contact: when and how it happened is its "
                                                     "interaction's", ErrorCode.INVALID) for name in owned])
        shared = {k: v for k, v in data.items() if k in SHARED_FIELDS}
        if shared:
            await update_interaction(scope, activity.interaction_id, shared, visible=True)
        return await OpportunityActivity.get(id=activity.id)
    after = {name: data.get(name, getattr(activity, name)) for name in ("type", "completed_at", *SHARED_FIELDS)}
    if not records_contact(after["type"], after["completed_at"]):
        return await deals.update_activity(scope, activity_id, data)
    opportunity = await Opportunity.get(id=activity.opportunity_id)
    activity_type = ActivityType(after["type"])
    extra = {k: v for k, v in data.items() if k not in after}
    await record_interaction(scope, _as_contact(opportunity, activity_type, after),
                             deal_side=DealSide(activity=activity, type=activity_type, extra=extra))
    return await OpportunityActivity.get(id=activity.id)


async def delete_deal_activity(scope: Scope, activity_id: int) -> int:
    """deleteOpportunityActivity; a logged customer contact stays: its interaction is the record."""
    activity = await deals.visible_activity(scope, activity_id)
    if activity.interaction_id is not None:
        raise ValidationFailed.single("id", "a logged customer contact is kept as its interaction and cannot be "
                                            "deleted", ErrorCode.INVALID)
    return await deals.delete_activity(scope, activity_id)


async def _add_participants(interaction: CustomerInteraction, contact_id: int | None, participants: list[dict]) -> None:
    rows = [InteractionParticipant(interaction_id=interaction.id, contact_id=p["contact_id"],
                                   role=p.get("role") or "attendee",
                                   attended=True if p.get("attended") is None else p["attended"],
                                   feedback=(p.get("feedback") or "").strip())
            for p in participants]
    if contact_id is not None and contact_id not in {p["contact_id"] for p in participants}:
        rows.append(InteractionParticipant(interaction_id=interaction.id, contact_id=contact_id))
    if rows:
        await InteractionParticipant.bulk_create(rows)


async def visible_interaction(scope: Scope, interaction_id: int | None) -> CustomerInteraction:
    return await get_visible(CustomerInteraction, interaction_id, q.interaction_filter(scope), "id", "interaction")


async def update_interaction(scope: Scope, interaction_id: int, data: dict, now: datetime | None = None, *,
                             visible: bool = False) -> CustomerInteraction:
    """Edit the notes and the follow-up; changing or clearing followUpDate reschedules or cancels its job.
    A linked deal activity's shared text follows. `visible`: the caller has checked it may edit it."""
    now = now or _now()
    interaction = (await CustomerInteraction.get(id=interaction_id) if visible
                   else await visible_interaction(scope, interaction_id))
    checks = Checks()
    previous_follow_up = interaction.follow_up_date
    if data.get("follow_up_date") is not None and previous_follow_up is not None \
            and _seconds(data["follow_up_date"]) == _seconds(previous_follow_up):
        data.pop("follow_up_date")  # unchanged, even if it has passed meanwhile
    _check_fields(checks, data, now, creating=False)
    checks.raise_if_any()
    before = columns(interaction)
    assign(interaction, data, EDITABLE_FIELDS)
    if "subject" in data or "description" in data:
        await _score_sentiment(interaction)
    async with recorded_change() as outbox:
        await interaction.save()
        await _interaction_event(outbox, InteractionUpdated, interaction, scope.user_id, before)
        await _follow_on_the_deal(interaction, outbox, scope.user_id)
    if "follow_up_date" in data:
        if previous_follow_up is not None:
            await abort(follow_up_key(interaction.id, previous_follow_up))
        if interaction.follow_up_date is not None:
            await schedule_follow_up(interaction.id, interaction.follow_up_date)
    await request_health_recompute(interaction.account_id)
    return interaction


# Follow-ups --------------------------------------------------------------------------------


async def schedule_follow_up(interaction_id: int, when: datetime) -> bool:
    """Queue the follow-up job for `when`; False when Redis is down (the catch-up cron covers it)."""
    when = _seconds(when)
    return await enqueue(FOLLOW_UP_JOB, interaction_id, int(when.timestamp()),
                         job_id=follow_up_key(interaction_id, when), defer_until=when)


async def run_follow_up(interaction_id: int, scheduled_for: int, now: datetime | None = None) -> str:
    """The follow-up job. Returns what it did: created, already_done, outdated, not_due or missing."""
    now = now or _now()
    interaction = await CustomerInteraction.get_or_none(id=interaction_id)
    if interaction is None:
        return "missing"
    when = interaction.follow_up_date
    if when is None or int(when.timestamp()) != scheduled_for:
        return "outdated"  # rescheduled or cleared after this job was queued
    if when > now:
        return "not_due"
    key = follow_up_key(interaction.id, when)
    if await Task.exists(source_key=key):
        return "already_done"
    account = await Account.get(id=interaction.account_id)
    try:
        async with recorded_change() as outbox:
            task = await Task.create(
                title=f"Follow up with {account.name}: {interaction.subject}"[:300],
                description=interaction.next_steps or interaction.description,
                due_date=when, assignee_id=account.assigned_to_id, account_id=account.id,
                opportunity_id=interaction.opportunity_id, source_key=key,
            )
            notification = await Notification.create(
                user_id=account.assigned_to_id, kind="interaction_follow_up",
                title=f"Follow-up due: {account.name}"[:300], message=interaction.subject,
                payload={"interactionId": interaction.id, "accountId": account.id, "taskId": task.id,
                         "followUpDate": when.isoformat()},
                source_key=key,
            )
            await outbox.record(TaskCreated(task_id=task.id, title=task.title, opportunity_id=task.opportunity_id),
                                account_id=account.id, owner_id=task.assignee_id, resource=task)
            await outbox.record(NotificationCreated(notification_id=notification.id), account_id=account.id,
                                owner_id=notification.user_id)
    except IntegrityError:  # the same job ran concurrently and won
        return "already_done"
    return "created"


async def catch_up_follow_ups(now: datetime | None = None) -> int:
    """Follow-ups due in the last 24 hours without their Task run now; those due in the next 10 minutes
    are (re)queued, which is a no-op when their job exists. Returns how many were run or queued."""
    now = now or _now()
    rows = await CustomerInteraction.filter(
        follow_up_date__gt=now - CATCH_UP_WINDOW, follow_up_date__lte=now + SCHEDULE_AHEAD,
    ).values_list("id", "follow_up_date")
    keys = {follow_up_key(i, when): (i, when) for i, when in rows}
    done = set(cast("list[str]", await Task.filter(source_key__in=list(keys)).values_list("source_key", flat=True))) \
        if keys else set()
    handled = 0
    for key, (interaction_id, when) in keys.items():
        if key in done:
            continue
        if when <= now:
            handled += await run_follow_up(interaction_id, int(when.timestamp()), now) == "created"
        else:
            handled += await schedule_follow_up(interaction_id, when)
    return handled


# Insights ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionInsights:
    account_id: int
    timeframe: Timeframe
    start: datetime
    end: datetime
    total_interactions: int
    by_type: dict[str, int]
    average_sentiment: float | None
    responses: ResponseTimes
    weeks: list[WeekTrend]
    comparison: PeriodComparison
    previous_start: datetime
    recommendations: list[str]


async def interaction_insights(scope: Scope, account_id: int, timeframe: str,
                               now: datetime | None = None) -> InteractionInsights:
    """Insights over the timeframe, up to now when it is still running (a period still to come is
    taken whole); the comparison is with the period of the same length just before."""
    now = now or _now()
    period = parse_timeframe(timeframe, now)
    account = await visible_account(scope, account_id)
    ids = [account.id]
    start, end = period.start, (period.end if now <= period.start else min(period.end, now))
    previous_start, _ = previous_period(start, end)
    current = await q.period_figures(ids, start, end)
    comparison = compare(current, await q.period_figures(ids, previous_start, start))
    points = await q.interaction_points(ids, start, end)
    responses = response_times(points)
    last_meeting = await q.last_meeting_at(ids, end)
    return InteractionInsights(
        account_id=account.id, timeframe=period, start=start, end=end,
        total_interactions=current.total, by_type=await q.count_by_type(ids, start, end),
        average_sentiment=current.average_sentiment, responses=responses,
        weeks=weekly_trends(points, start, end), comparison=comparison, previous_start=previous_start,
        recommendations=recommendations(comparison, responses, last_meeting, end),
    )
