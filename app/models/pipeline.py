"""Pipelines and their stages: configuration stored as data."""

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import ForecastCategory, StageKind
from app.models.base import JSONObject, created_at


class Pipeline(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    is_default = fields.BooleanField(default=False)
    created_at = created_at()

    class Meta:
        table = "pipelines"


class LostReason(Model):
    """An entry of the lost-reason picklist admins keep: deals closed as lost name one by `key`
    (Opportunity.lost_reason_key). Keys never change; a reason no longer offered is deactivated."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=50, unique=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.TextField(default="")
    is_active = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    created_at = created_at()

    class Meta:
        table = "lost_reasons"


class PipelineStage(Model):
    id = fields.IntField(primary_key=True)
    pipeline: fields.ForeignKeyRelation["Pipeline"] = fields.ForeignKeyField(
        "models.Pipeline", related_name="stages", on_delete=fields.CASCADE
    )
    pipeline_id: int
    key = fields.CharField(max_length=64)
    name = fields.CharField(max_length=100)
    order = fields.IntField()
    kind = fields.CharEnumField(StageKind, max_length=8, default=StageKind.OPEN)
    probability = fields.IntField()
    expected_duration_days = fields.IntField(default=14)
    forecast_category = fields.CharEnumField(ForecastCategory, max_length=16, default=ForecastCategory.PIPELINE)
    # Lists of requirement / automation dicts, validated by app.domain on write.
    requirements: fields.JSONField[list[JSONObject]] = fields.JSONField(default=list)
    automations: fields.JSONField[list[JSONObject]] = fields.JSONField(default=list)

    class Meta:
        table = "pipeline_stages"
        unique_together = (("pipeline", "key"),)
