"""Loading pipeline stages as domain StageSpecs, and the facts their gates look at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from app.domain.pipeline import GATE_FIELDS, GateFacts, StageSpec
from app.models import Opportunity, OpportunityActivity, OpportunityProduct, PipelineStage


def to_spec(stage: PipelineStage) -> StageSpec:
    return StageSpec(
        id=stage.id, key=stage.key, name=stage.name, order=stage.order, kind=stage.kind,
        probability=stage.probability, expected_duration_days=stage.expected_duration_days,
        forecast_category=stage.forecast_category,
        requirements=tuple(stage.requirements or ()), automations=tuple(stage.automations or ()),
    )


async def stage_specs(pipeline_id: int) -> list[StageSpec]:
    return [to_spec(s) for s in await PipelineStage.filter(pipeline_id=pipeline_id).order_by("order", "id")]


def by_id(stages: list[StageSpec], stage_id: int) -> StageSpec:
    return next(s for s in stages if s.id == stage_id)


def by_key(stages: list[StageSpec], key: str) -> StageSpec | None:
    return next((s for s in stages if s.key == key), None)


def creation_facts(data: dict) -> GateFacts:
    """What the gates see of a deal being created: its fields, no activity and no product yet."""
    fields = {name: data.get(name) for name in GATE_FIELDS}
    return GateFacts(fields=fields, value=data.get("value") or Decimal(0), completed_activity_types=frozenset(),
                     product_count=0)


async def gate_facts(opportunity: Opportunity, overrides: dict | None = None) -> GateFacts:
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the types themselves.
    completed = cast("list[Any]", await (
        OpportunityActivity.filter(opportunity_id=opportunity.id, completed_at__isnull=False)
        .distinct().values_list("type", flat=True)
    ))
    products = await OpportunityProduct.filter(opportunity_id=opportunity.id).count()
    fields: dict[str, Any] = {
        "budget": opportunity.budget, "contact_id": opportunity.contact_id, "next_step": opportunity.next_step,
        "description": opportunity.description, "expected_close_date": opportunity.expected_close_date,
        "value": opportunity.value, "lost_reason": opportunity.lost_reason, "lost_reason_key": opportunity.lost_reason_key,
    }
    fields.update(overrides or {})
    return GateFacts(
        fields=fields, value=fields["value"],
        completed_activity_types=frozenset(getattr(t, "value", t) for t in completed),
        product_count=products,
    )
