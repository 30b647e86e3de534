"""Pipelines: the default food-service pipeline and stage look-ups."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.domain.pipeline_defaults import DEFAULT_PIPELINE_NAME, DEFAULT_STAGES
from app.models import Pipeline, PipelineStage


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


async def default_pipeline() -> Pipeline:
    return await ensure_default_pipeline()


async def first_stage(pipeline_id: int) -> PipelineStage:
    return await PipelineStage.filter(pipeline_id=pipeline_id, kind="open").order_by("order").first()
