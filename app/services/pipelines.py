"""Pipelines: the default food-service pipeline and stage look-ups."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.domain.pipeline_defaults import DEFAULT_PIPELINE_NAME, DEFAULT_STAGES
from app.models import Pipeline, PipelineStage
from app.domain.enums import Role, StageKind
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed
from app.domain.pipeline import automation_errors, creation_stage_errors, requirement_errors
from app.domain.validation import percent_error
from app.queries.visibility import Scope
from app.services.common import Checks, assign, strip_text


async def ensure_default_pipeline() -> Pipeline:
    """Create the "New business" pipeline with the spec's six stages, once."""
    existing = await Pipeline.filter(is_default=True).first()
    if existing:
        return existing
    async with in_transaction():
        pipeline = await Pipeline.create(name=DEFAULT_PIPELINE_NAME, is_default=True)
        await PipelineStage.bulk_create(
            [PipelineStage(pipeline=pipeline, **stage) for stage in DEFAULT_STAGES]
        )
    return pipeline


# Configuration (admins) --------------------------------------------------------------

STAGE_FIELDS = {"name", "order", "probability", "expected_duration_days", "forecast_category", "requirements", "automations"}


def _require_admin(scope: Scope) -> None:
    if scope.role is not Role.ADMIN:
        raise PermissionDenied("only admins configure pipelines")


async def _check_stage(checks: Checks, stage: PipelineStage, data: dict) -> None:
    checks.required_text(data, "name", required=False)
    if "probability" in data:
        checks.check("probability", percent_error(data["probability"]), ErrorCode.OUT_OF_RANGE)
    if data.get("expected_duration_days") is not None and not 0 <= data["expected_duration_days"] <= 365:
        checks.add("expected_duration_days", "must be between 0 and 365", ErrorCode.OUT_OF_RANGE)
    if "requirements" in data:
        checks.errors.extend(requirement_errors(data["requirements"]))
    if "automations" in data:
        checks.errors.extend(automation_errors(data["automations"]))
    if data.get("order") is not None:
        clash = PipelineStage.filter(pipeline_id=stage.pipeline_id, order=data["order"])
        if stage.id is not None:
            clash = clash.exclude(id=stage.id)
        if await clash.exists():
            checks.add("order", "another stage of this pipeline has this order", ErrorCode.DUPLICATE)
        terminal = PipelineStage.filter(pipeline_id=stage.pipeline_id).exclude(kind=StageKind.OPEN)
        if stage.kind is StageKind.OPEN and await terminal.filter(order__lte=data["order"]).exists():
            checks.add("order", "open stages come before closed_won and closed_lost", ErrorCode.OUT_OF_RANGE)
        elif stage.kind is not StageKind.OPEN and await PipelineStage.filter(
                pipeline_id=stage.pipeline_id, kind=StageKind.OPEN, order__gte=data["order"]).exists():
            checks.add("order", "closed stages come after every open stage", ErrorCode.OUT_OF_RANGE)
    if stage.kind is StageKind.OPEN:
        await _check_creation_stage(checks, stage, data)
    if stage.kind is not StageKind.OPEN:
        # closed_won / closed_lost are fixed terminal stages: their meaning is not configurable.
        for name in ("probability", "requirements", "forecast_category"):
            if name in data:
                checks.add(name, f"the {stage.key} stage's {name} is fixed", ErrorCode.INVALID)


async def _check_creation_stage(checks: Checks, stage: PipelineStage, data: dict) -> None:
    """Deals are created in the first open stage: after this change, that stage must have no entry
    gate a new deal cannot meet (app.domain.pipeline.creation_stage_errors)."""
    others = PipelineStage.filter(pipeline_id=stage.pipeline_id, kind=StageKind.OPEN)
    if stage.id is not None:
        others = others.exclude(id=stage.id)
    first_other = await others.order_by("order").first()
    order = data.get("order", stage.order)
    if order is None:
        return  # reported as required
    if first_other is None or order < first_other.order:
        checks.errors.extend(creation_stage_errors(data.get("key") or stage.key,
                                                   data.get("requirements", stage.requirements)))
    elif ("order" in data and stage.id is not None and stage.order < first_other.order
          and creation_stage_errors(first_other.key, first_other.requirements)):
        # Moving this stage back makes another the creation stage: its gates must allow new deals.
        checks.add("order", f"{first_other.key} would become the stage deals are created in, and its entry "
                                "requirements need activities or products no new deal has", ErrorCode.INVALID)


async def update_stage(scope: Scope, stage_id: int, data: dict) -> PipelineStage:
    _require_admin(scope)
    stage = await PipelineStage.get_or_none(id=stage_id)
    if stage is None:
        raise ValidationFailed.single("id", "stage not found", ErrorCode.NOT_FOUND)
    strip_text(data, "name")
    checks = Checks()
    await _check_stage(checks, stage, data)
    checks.raise_if_any()
    assign(stage, data, STAGE_FIELDS)
    await stage.save()
    return stage


async def create_pipeline(scope: Scope, name: str) -> Pipeline:
    _require_admin(scope)
    name = name.strip()
    checks = Checks()
    if not name:
        checks.add("name", "is required", ErrorCode.REQUIRED)
    elif await Pipeline.exists(name=name):
        checks.add("name", "a pipeline with this name exists", ErrorCode.DUPLICATE)
    checks.raise_if_any()
    async with in_transaction():
        pipeline = await Pipeline.create(name=name)
        # Every pipeline ends in the same two fixed terminal stages.
        terminal = [s for s in DEFAULT_STAGES if s["kind"] != "open"]
        await PipelineStage.bulk_create([PipelineStage(pipeline=pipeline, **{**s, "order": 100 + i})
                                         for i, s in enumerate(terminal)])
    return pipeline


async def add_stage(scope: Scope, pipeline_id: int, data: dict) -> PipelineStage:
    _require_admin(scope)
    if not await Pipeline.exists(id=pipeline_id):
        raise ValidationFailed.single("pipeline_id", "pipeline not found", ErrorCode.NOT_FOUND)
    strip_text(data, "key", "name")
    stage = PipelineStage(pipeline_id=pipeline_id, kind=StageKind.OPEN)
    checks = Checks()
    checks.required_text(data, "key", required=True)
    checks.required_text(data, "name", required=True)
    for name in ("order", "probability"):
        if data.get(name) is None:
            checks.add(name, "is required", ErrorCode.REQUIRED)
    if data.get("key"):
        if not data["key"].replace("_", "").isalnum() or data["key"] != data["key"].lower():
            checks.add("key", "use lower-case letters, digits and _", ErrorCode.INVALID)
        elif await PipelineStage.exists(pipeline_id=pipeline_id, key=data["key"]):
            checks.add("key", "this pipeline already has a stage with this key", ErrorCode.DUPLICATE)
    await _check_stage(checks, stage, data)
    checks.raise_if_any()
    stage.key = data["key"]
    assign(stage, data, STAGE_FIELDS)
    await stage.save()
    return stage


async def delete_stage(scope: Scope, stage_id: int) -> int:
    from app.models import Opportunity, StageTransition

    _require_admin(scope)
    stage = await PipelineStage.get_or_none(id=stage_id)
    if stage is None:
        raise ValidationFailed.single("id", "stage not found", ErrorCode.NOT_FOUND)
    if stage.kind is not StageKind.OPEN:
        raise ValidationFailed.single("id", "closed_won and closed_lost cannot be deleted", ErrorCode.INVALID)
    in_use = await Opportunity.filter(stage_id=stage.id).count()
    if in_use:
        raise ValidationFailed.single("id", f"{in_use} opportunities are in this stage; move them first", ErrorCode.IN_USE)
    if await StageTransition.filter(Q(from_stage_id=stage.id) | Q(to_stage_id=stage.id)).exists():
        raise ValidationFailed.single("id", "the stage appears in stage history; rename it instead", ErrorCode.IN_USE)
    await stage.delete()
    return stage_id
