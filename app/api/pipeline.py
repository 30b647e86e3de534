"""GraphQL for the pipeline engine: stage configuration, stage moves, readiness, tasks, notifications."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional, cast

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import ForecastCategory
from app.api.errors import input_data, parse_id, require_scope, deleting, run_mutation, user_errors
from app.api.user_input import bad_user_input
from app.api.inputs import not_null
from app.api.types import Node, Opportunity, Pipeline, PipelineStage, UserError
from app.domain.enums import TaskPriority as TaskPriorityEnum, TaskStatus as TaskStatusEnum
from app.domain.errors import ValidationFailed
from app.services import lost_reasons as lost_reason_service
from app.services import pipeline_engine, pipelines

TaskPriority = strawberry.enum(TaskPriorityEnum)
TaskStatus = strawberry.enum(TaskStatusEnum)
ID = strawberry.ID


@strawberry.type(description="A requirement the opportunity does not meet yet for the move.")
class UnmetRequirement:
    stage: str
    kind: str
    field: Optional[str]
    activity_types: list[str]
    needed: str
    when: str = strawberry.field(description="entry: needed to come into `stage`; exit: needed to leave it forward.")


def _unmet(items) -> list[UnmetRequirement]:
    return [UnmetRequirement(stage=u.stage, kind=u.kind, field=u.field, activity_types=list(u.activity_types),
                             needed=u.needed, when=u.when) for u in items]


@strawberry.type
class StageReadiness:
    stage: str
    ready: bool
    unmet_requirements: list[UnmetRequirement]


@strawberry.type
class AdvanceOpportunityPayload:
    opportunity: Optional[Opportunity] = None
    errors: list[UserError] = strawberry.field(default_factory=list)
    unmet_requirements: list[UnmetRequirement] = strawberry.field(default_factory=list)


@strawberry.input(description="Fields a stage move may set at the same time (e.g. the lost reason).")
class AdvanceDataInput:
    lost_reason_key: Optional[str] = strawberry.field(
        default=UNSET, description="Closing as lost: the key of an active entry of `lostReasons` (required).")
    lost_reason: Optional[str] = strawberry.field(default=UNSET, description="Free-text detail of the loss.")
    budget: Optional[Decimal] = UNSET
    next_step: Optional[str] = UNSET
    description: Optional[str] = UNSET
    expected_close_date: Optional[date] = UNSET
    probability: Optional[int] = UNSET
    contact_id: Optional[ID] = UNSET


@strawberry.input
class AdvanceOpportunityInput:
    id: ID
    stage: str
    data: Optional[AdvanceDataInput] = None
    expected_version: Optional[int] = None
    dry_run: bool = False
    reopen: bool = strawberry.field(default=False, description="Required to move a closed opportunity (owner's manager or admin).")


@strawberry.input
class PipelineStageInput:
    name: Optional[str] = UNSET
    order: Optional[int] = UNSET
    probability: Optional[int] = UNSET
    expected_duration_days: Optional[int] = UNSET
    forecast_category: Optional[ForecastCategory] = UNSET
    requirements: Optional[JSON] = UNSET
    automations: Optional[JSON] = UNSET


@strawberry.input
class NewPipelineStageInput(PipelineStageInput):
    key: str = ""


@strawberry.type
class PipelineStagePayload:
    stage: Optional[PipelineStage] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PipelinePayload:
    pipeline: Optional[Pipeline] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(name="DeletePipelineStagePayload")
class DeleteStagePayload:
    deleted_id: Optional[ID] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="An entry of the lost-reason picklist (admins keep it; deals closed as lost name one).")
class LostReason(Node):
    key: str = strawberry.field(description="What deals name (`lostReasonKey`); never changes.")
    name: str
    description: str
    is_active: bool = strawberry.field(description="Inactive entries are kept for the deals that name them, "
                                                   "but new losses cannot pick them.")
    position: int


@strawberry.input
class CreateLostReasonInput:
    key: str = strawberry.field(description="lowercase letters, digits and _, starting with a letter; never changes.")
    name: str
    description: Optional[str] = None
    position: Optional[int] = None


@strawberry.input
class UpdateLostReasonInput:
    name: Optional[str] = not_null()
    description: Optional[str] = not_null()
    is_active: Optional[bool] = not_null()
    position: Optional[int] = not_null()


@strawberry.type
class LostReasonPayload:
    lost_reason: Optional[LostReason] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PipelineQuery:
    @strawberry.field(description="The lost-reason picklist, in its order: the active entries (with "
                                  "includeInactive, all).")
    async def lost_reasons(self, info: CtxInfo, include_inactive: bool = False) -> list[LostReason]:
        require_scope(info)
        return cast(list[LostReason], await lost_reason_service.lost_reasons(include_inactive))

    @strawberry.field(description="Stages of a pipeline (default: the default pipeline), in order.")
    async def pipeline_stages(self, info: CtxInfo, pipeline_id: Optional[ID] = None) -> list[PipelineStage]:
        require_scope(info)
        if pipeline_id is None:
            pipeline = await pipelines.ensure_default_pipeline()
            pid = pipeline.id
        else:
            try:
                pid = parse_id(pipeline_id, "pipeline_id")
            except ValidationFailed:
                return []
        return cast(list[PipelineStage], await m.PipelineStage.filter(pipeline_id=pid).order_by("order", "id"))

    @strawberry.field(description="What the opportunity still needs to enter the stage; moves nothing.")
    async def stage_readiness(self, info: CtxInfo, opportunity_id: ID, stage: str) -> StageReadiness:
        scope = require_scope(info)
        try:
            unmet = await pipeline_engine.stage_readiness(scope, parse_id(opportunity_id, "opportunity_id"), stage)
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None
        return StageReadiness(stage=stage, ready=not unmet, unmet_requirements=_unmet(unmet))


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(description="Move an opportunity to another stage through the stage gates.")
    async def advance_opportunity(self, info: CtxInfo, input: AdvanceOpportunityInput) -> AdvanceOpportunityPayload:
        scope = require_scope(info)
        try:
            data = input_data(input.data) if input.data else {}
            result = await pipeline_engine.advance_opportunity(
                scope, parse_id(input.id, "id", "Opportunity"), input.stage, data,
                expected_version=input.expected_version, dry_run=input.dry_run, reopen=input.reopen,
            )
        except ValidationFailed as exc:
            return AdvanceOpportunityPayload(errors=user_errors(exc))
        return AdvanceOpportunityPayload(opportunity=cast(Optional[Opportunity], result.opportunity),
                                         unmet_requirements=_unmet(result.unmet))

    @strawberry.mutation(description="Admins: add an entry to the lost-reason picklist.")
    async def create_lost_reason(self, info: CtxInfo, input: CreateLostReasonInput) -> LostReasonPayload:
        return await run_mutation(info, LostReasonPayload, "lost_reason",
                                  lambda s: lost_reason_service.create_lost_reason(s, input_data(input)))

    @strawberry.mutation(description="Admins: rename, describe, reorder or (de)activate a lost reason (its key stays).")
    async def update_lost_reason(self, info: CtxInfo, id: ID, input: UpdateLostReasonInput) -> LostReasonPayload:
        return await run_mutation(info, LostReasonPayload, "lost_reason", lambda s: lost_reason_service.update_lost_reason(
            s, parse_id(id, "id", "LostReason"), input_data(input)))

    @strawberry.mutation(description="Admins: change a stage's name, order, probability, requirements or automations.")
    async def update_pipeline_stage(self, info: CtxInfo, id: ID, input: PipelineStageInput) -> PipelineStagePayload:
        return await run_mutation(info, PipelineStagePayload, "stage",
                                  lambda s: pipelines.update_stage(s, parse_id(id, "id", "PipelineStage"), input_data(input)))

    @strawberry.mutation
    async def create_pipeline(self, info: CtxInfo, name: str) -> PipelinePayload:
        return await run_mutation(info, PipelinePayload, "pipeline", lambda s: pipelines.create_pipeline(s, name))

    @strawberry.mutation
    async def add_pipeline_stage(self, info: CtxInfo, pipeline_id: ID, input: NewPipelineStageInput) -> PipelineStagePayload:
        return await run_mutation(info, PipelineStagePayload, "stage", lambda s: pipelines.add_stage(
            s, parse_id(pipeline_id, "pipeline_id"), input_data(input)))

    @strawberry.mutation
    async def delete_pipeline_stage(self, info: CtxInfo, id: ID) -> DeleteStagePayload:
        return await run_mutation(info, DeleteStagePayload, "deleted_id",
                                  deleting("PipelineStage", lambda s: pipelines.delete_stage(s, parse_id(id, "id", "PipelineStage"))))
