"""Opportunities and their lines, activities and documents (stage moves live in the pipeline engine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import cast
from urllib.parse import urlparse

from tortoise.transactions import in_transaction

from app.domain.enums import ActivityType, StageKind, TransitionSource, ValueSource
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import (
    ActivityAdded,
    ActivityDeleted,
    ActivityUpdated,
    DocumentsChanged,
    OpportunityCreated,
    OpportunityDeleted,
    OpportunityProductsChanged,
    OpportunityUpdated,
)
from app.domain.pipeline import unmet_at_creation
from app.domain.opportunities import CENT, contract_weeks_error, line_total, products_value
from app.domain.validation import percent_error, positive_error
from app.models import (
    Opportunity,
    OpportunityActivity,
    OpportunityDocument,
    OpportunityProduct,
    Pipeline,
    PipelineStage,
    Product,
    StageTransition,
    Task,
)
from app.queries.visibility import Scope, opportunity_filter
from app.services.accounts import visible_account
from app.services.changelog import recorded_change, touch_opportunity
from app.services.common import Checks, assign, check_grantee, get_visible, require_deleting_for_good, strip_text
from app.services.events import Outbox, columns
from app.services.opportunity_writes import check_opportunity_data, lock_opportunity, save_opportunity, stale
from app.services.pipelines import ensure_default_pipeline
from app.services.rows import int_column
from app.services.stages import creation_facts, to_spec

OPPORTUNITY_FIELDS = {
    "name", "contact_id", "value", "value_source", "budget", "expected_close_date", "source", "assigned_to_id",
    "next_step", "description",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def visible_opportunity(scope: Scope, opportunity_id: int | None, field: str = "opportunity_id") -> Opportunity:
    return await get_visible(Opportunity, opportunity_id, opportunity_filter(scope), field, "opportunity")


async def _check_common(checks: Checks, scope: Scope, data: dict, account_id: int | None,
                        opportunity_id: int | None = None) -> None:
    checks.required_text(data, "name", required=False)
    checks.money(data, "value", "budget")
    await check_opportunity_data(checks, scope, data, account_id=account_id, opportunity_id=opportunity_id)
    if "assigned_to_id" in data:
        user_id = data["assigned_to_id"]
        if user_id is None:
            checks.add("assigned_to_id", "is required", ErrorCode.REQUIRED)
        else:
            await check_grantee(checks, scope, user_id)


async def create_opportunity(scope: Scope, data: dict) -> Opportunity:
    if data.get("probability") is None:
        data.pop("probability", None)
    for optional in ("value", "value_source"):
        if data.get(optional) is None:
            data.pop(optional, None)
    if "value" not in data:  # left out: the value follows the product lines, 0 until there are some
        data.setdefault("value_source", ValueSource.PRODUCTS)
    strip_text(data, "name")
    checks = Checks()
    checks.required_text(data, "name", required=True)
    if data.get("expected_close_date") is None:
        checks.add("expected_close_date", "is required", ErrorCode.REQUIRED)
    account = await visible_account(scope, data.get("account_id"))
    data.setdefault("assigned_to_id", scope.user_id)
    await _check_common(checks, scope, data, account.id)
    pipeline = await _pipeline(checks, data.get("pipeline_id"))
    stage = None
    if pipeline is not None:
        stage_q = PipelineStage.filter(pipeline_id=pipeline.id, kind=StageKind.OPEN)
        stage_key = data.get("stage")
        stage = await (stage_q.filter(key=stage_key).first() if stage_key else stage_q.order_by("order").first())
        if stage is None:
            checks.add("stage", "not an open stage of this pipeline", ErrorCode.INVALID)
        else:
            for unmet in unmet_at_creation(to_spec(stage), creation_facts(data)):
                # A field the input has names itself; other gates (products) are the stage's.
                checks.add(unmet.field if unmet.field in data or unmet.field == "budget" else "stage",
                           f"a deal created in {stage.key} needs {unmet.needed}", ErrorCode.REQUIRED)
    checks.raise_if_any()
    assert pipeline is not None and stage is not None  # else a check failed and raise_if_any raised
    now = _now()
    probability = data.get("probability", stage.probability)
    outbox = Outbox()
    async with in_transaction():
        opportunity = Opportunity(
            account_id=account.id, pipeline_id=pipeline.id, stage_id=stage.id, stage_entered_at=now,
            probability=probability, probability_overridden="probability" in data,
            forecast_category=stage.forecast_category,
        )
        assign(opportunity, data, OPPORTUNITY_FIELDS)
        opportunity.value = Decimal(opportunity.value).quantize(CENT)
        await opportunity.save()
        await StageTransition.create(
            opportunity_id=opportunity.id, from_stage_id=None, to_stage_id=stage.id, at=now,
            by_id=scope.user_id, source=TransitionSource.API, amount_before=None,
            amount_after=opportunity.value, probability_before=None, probability_after=probability,
        )
        await outbox.record(OpportunityCreated(stage=stage.key), opportunity=opportunity, actor_id=scope.user_id,
                            resource=opportunity)
    await outbox.publish()
    return opportunity


async def _pipeline(checks: Checks, pipeline_id: int | None) -> Pipeline | None:
    if pipeline_id is None:
        return await ensure_default_pipeline()
    pipeline = await Pipeline.get_or_none(id=pipeline_id)
    if pipeline is None:
        checks.add("pipeline_id", "pipeline not found", ErrorCode.NOT_FOUND)
    return pipeline


def check_version(opportunity: Opportunity, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != opportunity.version:
        raise stale(opportunity.version)


async def update_opportunity(scope: Scope, opportunity_id: int, data: dict, expected_version: int | None) -> Opportunity:
    """With `expected_version`, of concurrent updates read at one version one wins and the others
    get STALE_VERSION; without it, concurrent updates are serialised on the row, none lost."""
    opportunity = await visible_opportunity(scope, opportunity_id, "id")
    check_version(opportunity, expected_version)
    strip_text(data, "name")
    checks = Checks()
    await _check_common(checks, scope, data, opportunity.account_id, opportunity.id)
    if "expected_close_date" in data and data["expected_close_date"] is None:
        checks.add("expected_close_date", "is required", ErrorCode.REQUIRED)
    if data.get("value") is None and "value" in data:
        checks.add("value", "is required", ErrorCode.REQUIRED)
    checks.raise_if_any()
    changes = {k: v for k, v in data.items() if k in OPPORTUNITY_FIELDS}
    if "probability" in data:
        changes.update(probability=data["probability"], probability_overridden=True)
    outbox = Outbox()
    async with in_transaction():
        opportunity = await lock_opportunity(opportunity.id, expected_version)
        if changes.get("value_source") == ValueSource.PRODUCTS:
            changes["value"] = await _lines_value(opportunity.id)
        await save_opportunity(opportunity, changes, outbox, lambda diff: OpportunityUpdated(changes=diff),
                               actor_id=scope.user_id)
    await outbox.publish()
    return opportunity


async def delete_opportunity(scope: Scope, opportunity_id: int) -> int:
    opportunity = await visible_opportunity(scope, opportunity_id, "id")
    require_deleting_for_good(scope)
    async with recorded_change() as outbox:
        deleted = OpportunityDeleted(
            opportunity_id=opportunity.id,
            activity_ids=await int_column(OpportunityActivity.filter(opportunity_id=opportunity.id)),
            task_ids=await int_column(Task.filter(opportunity_id=opportunity.id)))
        await opportunity.delete()
        # The event outlives the row (its opportunity column would dangle): the id rides in the payload.
        await outbox.record(deleted, account_id=opportunity.account_id, owner_id=opportunity.assigned_to_id,
                            resource=opportunity, actor_id=scope.user_id)
    return opportunity_id


# Products on an opportunity -----------------------------------------------------------


async def _lines_value(opportunity_id: int) -> Decimal:
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the totals themselves.
    return products_value(cast("list[Decimal]", await OpportunityProduct.filter(opportunity_id=opportunity_id)
                               .values_list("total_price", flat=True)))


@dataclass(frozen=True)
class LineChange:
    """A product line written, its deal as it now is, and whether the deal's value moved with it."""
    line: OpportunityProduct
    opportunity: Opportunity
    value_changed: bool


async def _lines_changed(opportunity: Opportunity, outbox: Outbox, actor_id: int) -> tuple[Opportunity, bool]:
    """Inside the caller's transaction: a deal whose value follows its lines takes their sum (a typed
    value stays as it was); either way the lines' change is an event."""
    current = await lock_opportunity(opportunity.id)
    previous = current.value
    value = await _lines_value(opportunity.id) if current.value_source == ValueSource.PRODUCTS else previous
    changes = {"value": {"from": str(previous), "to": str(value)}} if value != previous else {}
    await save_opportunity(current, {"value": value}, outbox, OpportunityProductsChanged(changes=changes),
                           actor_id=actor_id)
    return current, value != previous


def _check_line(checks: Checks, data: dict) -> None:
    checks.check("quantity", positive_error(data.get("quantity")), ErrorCode.OUT_OF_RANGE)
    checks.money({"unit_price": data.get("unit_price")}, "unit_price")
    checks.check("discount", percent_error(data.get("discount")), ErrorCode.OUT_OF_RANGE)
    checks.check("contract_weeks", contract_weeks_error(data.get("contract_weeks")), ErrorCode.OUT_OF_RANGE)


async def add_opportunity_product(scope: Scope, data: dict) -> LineChange:
    opportunity = await visible_opportunity(scope, data.get("opportunity_id"))
    checks = Checks()
    product = await Product.get_or_none(id=data.get("product_id"), is_active=True)
    if product is None:
        checks.add("product_id", "product not found", ErrorCode.NOT_FOUND)
    if data.get("quantity") is None:
        checks.add("quantity", "is required", ErrorCode.REQUIRED)
    _check_line(checks, data)
    checks.raise_if_any()
    assert product is not None  # else a check failed and raise_if_any raised
    unit_price = data["unit_price"] if data.get("unit_price") is not None else product.unit_price
    discount = data["discount"] if data.get("discount") is not None else Decimal(0)
    outbox = Outbox()
    async with in_transaction():
        weeks = data.get("contract_weeks")
        line = await OpportunityProduct.create(
            opportunity_id=opportunity.id, product_id=product.id, quantity=data["quantity"],
            unit_price=unit_price, discount=discount, contract_weeks=weeks,
            total_price=line_total(data["quantity"], unit_price, discount, weeks),
        )
        current, changed = await _lines_changed(opportunity, outbox, scope.user_id)
    await outbox.publish()
    return LineChange(line, current, changed)


async def _visible_line(scope: Scope, line_id: int) -> tuple[OpportunityProduct, Opportunity]:
    line = await OpportunityProduct.get_or_none(id=line_id)
    if line is None or not await Opportunity.filter(opportunity_filter(scope), id=line.opportunity_id).exists():
        raise ValidationFailed.single("id", "opportunity product not found", ErrorCode.NOT_FOUND)
    return line, await Opportunity.get(id=line.opportunity_id)


async def update_opportunity_product(scope: Scope, line_id: int, data: dict) -> LineChange:
    line, opportunity = await _visible_line(scope, line_id)
    checks = Checks()
    for field in ("quantity", "unit_price", "discount"):
        if field in data and data[field] is None:
            checks.add(field, "is required", ErrorCode.REQUIRED)
    _check_line(checks, data)
    checks.raise_if_any()
    assign(line, data, {"quantity", "unit_price", "discount", "contract_weeks"})
    line.total_price = line_total(line.quantity, line.unit_price, line.discount, line.contract_weeks)
    outbox = Outbox()
    async with in_transaction():
        await line.save()
        current, changed = await _lines_changed(opportunity, outbox, scope.user_id)
    await outbox.publish()
    return LineChange(line, current, changed)


async def remove_opportunity_product(scope: Scope, line_id: int) -> int:
    line, opportunity = await _visible_line(scope, line_id)
    outbox = Outbox()
    async with in_transaction():
        await line.delete()
        await _lines_changed(opportunity, outbox, scope.user_id)
    await outbox.publish()
    return line_id


# Activities ---------------------------------------------------------------------------

ACTIVITY_FIELDS = {"type", "subject", "description", "outcome", "next_steps", "scheduled_at", "completed_at"}


# Every deal's lastActivityAt from its activities (what refresh_last_activity keeps for one deal).
LAST_ACTIVITY_SQL = """
UPDATE opportunities SET last_activity_at = (
    SELECT MAX(a.completed_at) FROM opportunity_activities a
    WHERE a.opportunity_id = opportunities.id AND a.type <> 'system' AND a.completed_at IS NOT NULL)"""


async def refresh_last_activity(opportunity_id: int) -> None:
    """Inside the caller's transaction, after an activity changed: when the deal was last worked (its
    latest done, non-system activity), so lists can sort by it."""
    latest = await OpportunityActivity.filter(opportunity_id=opportunity_id, completed_at__isnull=False) \
        .exclude(type=ActivityType.SYSTEM).order_by("-completed_at").first().values_list("completed_at", flat=True)
    await Opportunity.filter(id=opportunity_id).update(last_activity_at=latest)


def check_activity(data: dict, *, creating: bool) -> None:
    """Raises ValidationFailed for an activity's own data (`data` is the change, trimmed in place)."""
    strip_text(data, "subject")
    checks = Checks()
    checks.required_text(data, "subject", required=creating)
    if creating and data.get("type") is None:
        checks.add("type", "is required", ErrorCode.REQUIRED)
    if data.get("type") == ActivityType.SYSTEM:
        checks.add("type", "system activities are written by the system only", ErrorCode.INVALID)
    completed = data.get("completed_at")
    if completed is not None and completed > _now():
        checks.add("completed_at", "cannot be in the future", ErrorCode.OUT_OF_RANGE)
    checks.raise_if_any()


async def write_activity(activity: OpportunityActivity, data: dict, outbox: Outbox, *, creating: bool,
                         actor_id: int | None) -> OpportunityActivity:
    """Inside the caller's transaction: the activity written, its deal touched, the event recorded."""
    before = None if creating else columns(activity)
    assign(activity, data, ACTIVITY_FIELDS)
    opportunity = await Opportunity.get(id=activity.opportunity_id)
    await activity.save()
    await refresh_last_activity(opportunity.id)
    await touch_opportunity(opportunity)
    event_type = ActivityAdded if creating else ActivityUpdated
    await outbox.record(event_type(activity_id=activity.id, type=getattr(activity.type, "value", activity.type),
                                   completed=activity.completed_at is not None),
                        opportunity=opportunity, actor_id=actor_id, resource=activity, before=before)
    return activity


async def _save_activity(activity: OpportunityActivity, data: dict, *, creating: bool) -> OpportunityActivity:
    check_activity(data, creating=creating)
    outbox = Outbox()
    async with in_transaction():
        await write_activity(activity, data, outbox, creating=creating, actor_id=activity.created_by_id)
    await outbox.publish()
    return activity


async def add_activity(scope: Scope, data: dict) -> OpportunityActivity:
    opportunity = await visible_opportunity(scope, data.get("opportunity_id"))
    activity = OpportunityActivity(opportunity_id=opportunity.id, created_by_id=scope.user_id)
    return await _save_activity(activity, data, creating=True)


async def visible_activity(scope: Scope, activity_id: int) -> OpportunityActivity:
    activity = await OpportunityActivity.get_or_none(id=activity_id)
    if activity is None or not await Opportunity.filter(opportunity_filter(scope), id=activity.opportunity_id).exists():
        raise ValidationFailed.single("id", "activity not found", ErrorCode.NOT_FOUND)
    return activity


async def update_activity(scope: Scope, activity_id: int, data: dict) -> OpportunityActivity:
    activity = await visible_activity(scope, activity_id)
    if activity.type == ActivityType.SYSTEM:
        raise ValidationFailed.single("id", "system activities cannot be edited", ErrorCode.INVALID)
    return await _save_activity(activity, data, creating=False)


async def delete_activity(scope: Scope, activity_id: int) -> int:
    activity = await visible_activity(scope, activity_id)
    require_deleting_for_good(scope)
    async with recorded_change() as outbox:
        await activity.delete()
        await refresh_last_activity(activity.opportunity_id)
        await touch_opportunity(activity.opportunity_id)
        await outbox.record(ActivityDeleted(activity_id=activity.id), resource=activity,
                            opportunity=await Opportunity.get(id=activity.opportunity_id), actor_id=scope.user_id)
    return activity_id


# Documents ----------------------------------------------------------------------------


async def add_document(scope: Scope, data: dict) -> OpportunityDocument:
    opportunity = await visible_opportunity(scope, data.get("opportunity_id"))
    strip_text(data, "name", "url")
    checks = Checks()
    checks.required_text(data, "name", required=True)
    url = data.get("url")
    if not url:
        checks.add("url", "is required", ErrorCode.REQUIRED)
    elif urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        checks.add("url", "must be an http(s) URL", ErrorCode.INVALID)
    checks.raise_if_any()
    async with recorded_change() as outbox:
        document = await OpportunityDocument.create(
            opportunity_id=opportunity.id, name=data["name"], url=url, type=data.get("type") or "other",
            content_type=data.get("content_type") or "", uploaded_by_id=scope.user_id,
        )
        await touch_opportunity(opportunity)
        await outbox.record(DocumentsChanged(added=document.id), opportunity=opportunity, actor_id=scope.user_id)
    return document


async def delete_document(scope: Scope, document_id: int) -> int:
    document = await OpportunityDocument.get_or_none(id=document_id)
    if document is None or not await Opportunity.filter(opportunity_filter(scope), id=document.opportunity_id).exists():
        raise ValidationFailed.single("id", "document not found", ErrorCode.NOT_FOUND)
    async with recorded_change() as outbox:
        await document.delete()
        await touch_opportunity(document.opportunity_id)
        await outbox.record(DocumentsChanged(removed=document.id),
                            opportunity=await Opportunity.get(id=document.opportunity_id), actor_id=scope.user_id)
    return document_id
