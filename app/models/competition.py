"""Competitors and their battlecards."""

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import Pricing
from app.models.base import created_at, updated_at


class Competitor(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    website = fields.CharField(max_length=300, default="")
    description = fields.TextField(default="")
    strengths: fields.JSONField[list[str]] = fields.JSONField(default=list)
    weaknesses: fields.JSONField[list[str]] = fields.JSONField(default=list)
    pricing = fields.CharEnumField(Pricing, max_length=16, default=Pricing.COMPETITIVE)
    market_share = fields.DecimalField(max_digits=5, decimal_places=4, default=0)
    incumbent_categories: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "competitors"


class BattleCard(Model):
    id = fields.IntField(primary_key=True)
    competitor: fields.ForeignKeyRelation["Competitor"] = fields.ForeignKeyField(
        "models.Competitor", related_name="battlecards", on_delete=fields.CASCADE
    )
    competitor_id: int
    title = fields.CharField(max_length=200)
    summary = fields.TextField(default="")
    objection_handling: fields.JSONField[list[dict[str, str]]] = fields.JSONField(default=list)
    proof_points: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "battlecards"
