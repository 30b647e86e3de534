"""Opportunities with their products, activities, documents and stage history."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import (
    ActivityType,
    DocumentType,
    ForecastCategory,
    OpportunitySource,
    Outcome,
    TransitionSource,
    ValueSource,
)
from app.models.base import created_at, money, updated_at

if TYPE_CHECKING:
    from app.models.accounts import Account, Contact
    from app.models.catalog import Product
    from app.models.competition import Competitor
    from app.models.interactions import CustomerInteraction
    from app.models.pipeline import Pipeline, PipelineStage
    from app.models.users import User


class Opportunity(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, db_index=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="opportunities", on_delete=fields.RESTRICT, db_index=True
    )
    account_id: int
    contact: fields.ForeignKeyNullableRelation["Contact"] = fields.ForeignKeyField(
        "models.Contact", related_name="opportunities", null=True, on_delete=fields.SET_NULL
    )
    contact_id: int | None
    pipeline: fields.ForeignKeyRelation["Pipeline"] = fields.ForeignKeyField(
        "models.Pipeline", related_name="opportunities", on_delete=fields.RESTRICT
    )
    pipeline_id: int
    stage: fields.ForeignKeyRelation["PipelineStage"] = fields.ForeignKeyField(
        "models.PipelineStage", related_name="opportunities", on_delete=fields.RESTRICT
    )
    stage_id: int
    stage_entered_at = fields.DatetimeField()
    # When the latest done, non-system activity happened (app.services.opportunities keeps it): sortable.
    last_activity_at = fields.DatetimeField(null=True)
    probability = fields.IntField()
    probability_overridden = fields.BooleanField(default=False)
    value = money(default=0)
    # MANUAL: typed by a person, product lines leave it alone; PRODUCTS: the sum of the lines' totals.
    value_source = fields.CharEnumField(ValueSource, max_length=16, default=ValueSource.MANUAL,
                                        db_default=ValueSource.MANUAL)
    budget = money(null=True)
    expected_close_date = fields.DateField()
    actual_close_date = fields.DateField(null=True)
    source = fields.CharEnumField(OpportunitySource, max_length=32, default=OpportunitySource.OTHER)
    assigned_to: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="opportunities", on_delete=fields.RESTRICT
    )
    assigned_to_id: int
    lost_reason = fields.TextField(null=True)  # free-text detail of a loss
    lost_reason_key = fields.CharField(max_length=50, null=True, db_index=True)  # LostReason.key
    next_step = fields.CharField(max_length=500, default="")
    description = fields.TextField(default="")
    forecast_category = fields.CharEnumField(ForecastCategory, max_length=16, default=ForecastCategory.PIPELINE)
    version = fields.IntField(default=1)
    competitors: fields.ManyToManyRelation["Competitor"] = fields.ManyToManyField(
        "models.Competitor", related_name="opportunities", through="opportunity_competitors"
    )
    created_at = created_at()
    updated_at = updated_at()
    # Archived (app.domain.archive): out of lists, search and the open pipeline, found by id, restorable.
    archived_at = fields.DatetimeField(null=True)
    # A reverse relation, declared for type checkers (Tortoise adds it from OpportunityDocument.opportunity).
    documents: fields.ReverseRelation["OpportunityDocument"]

    class Meta:
        table = "opportunities"
        # Keyset pagination orders by (sort column, id): one index per sortable column.
        indexes = (("assigned_to_id", "stage_id"), ("expected_close_date",), ("created_at", "id"), ("updated_at", "id"),
                   ("value", "id"), ("stage_id",), ("last_activity_at", "id"))


class OpportunityProduct(Model):
    id = fields.IntField(primary_key=True)
    opportunity: fields.ForeignKeyRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="products", on_delete=fields.CASCADE, db_index=True
    )
    opportunity_id: int
    product: fields.ForeignKeyRelation["Product"] = fields.ForeignKeyField(
        "models.Product", related_name="opportunity_lines", on_delete=fields.RESTRICT
    )
    product_id: int
    quantity = fields.DecimalField(max_digits=12, decimal_places=3)
    unit_price = money()
    discount = fields.DecimalField(max_digits=5, decimal_places=2, default=0)
    # Set: a supply contract of `quantity` per week for this many weeks; null: a one-off order.
    contract_weeks = fields.IntField(null=True)
    # Derived on every write by app.domain.opportunities.line_total; stored for SQL aggregates.
    total_price = money()
    created_at = created_at()

    class Meta:
        table = "opportunity_products"


class OpportunityActivity(Model):
    id = fields.IntField(primary_key=True)
    opportunity: fields.ForeignKeyRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="activities", on_delete=fields.CASCADE, db_index=True
    )
    opportunity_id: int
    type = fields.CharEnumField(ActivityType, max_length=32)
    subject = fields.CharField(max_length=300)
    description = fields.TextField(default="")
    outcome = fields.CharEnumField(Outcome, max_length=16, null=True)
    next_steps = fields.TextField(default="")
    scheduled_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    # A customer contact made on the deal: the interaction this activity is the deal's side of
    # (app.domain.contact_log); null for deal work.
    interaction: fields.OneToOneNullableRelation["CustomerInteraction"] = fields.OneToOneField(
        "models.CustomerInteraction", related_name="activity", null=True, on_delete=fields.CASCADE
    )
    interaction_id: int | None
    created_at = created_at()
    # Archived (app.domain.archive): out of lists, search and the open pipeline, found by id, restorable.
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "opportunity_activities"


class OpportunityDocument(Model):
    id = fields.IntField(primary_key=True)
    opportunity: fields.ForeignKeyRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="documents", on_delete=fields.CASCADE, db_index=True
    )
    opportunity_id: int
    name = fields.CharField(max_length=300)
    type = fields.CharEnumField(DocumentType, max_length=32, default=DocumentType.OTHER)
    url = fields.CharField(max_length=2000, null=True)
    stored_path = fields.CharField(max_length=500, null=True)
    content_type = fields.CharField(max_length=100, default="")
    size_bytes = fields.BigIntField(null=True)
    uploaded_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="documents", null=True, on_delete=fields.SET_NULL
    )
    uploaded_by_id: int | None
    created_at = created_at()

    class Meta:
        table = "opportunity_documents"


class StageTransition(Model):
    """Append-only log of stage moves: time in stage, conversion and rotting derive from it."""

    id = fields.IntField(primary_key=True)
    opportunity: fields.ForeignKeyRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="stage_transitions", on_delete=fields.CASCADE, db_index=True
    )
    opportunity_id: int
    from_stage: fields.ForeignKeyNullableRelation["PipelineStage"] = fields.ForeignKeyField(
        "models.PipelineStage", related_name="transitions_out", null=True, on_delete=fields.RESTRICT
    )
    from_stage_id: int | None
    to_stage: fields.ForeignKeyRelation["PipelineStage"] = fields.ForeignKeyField(
        "models.PipelineStage", related_name="transitions_in", on_delete=fields.RESTRICT
    )
    to_stage_id: int
    at = fields.DatetimeField(db_index=True)
    by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="stage_transitions", null=True, on_delete=fields.SET_NULL
    )
    by_id: int | None
    source = fields.CharEnumField(TransitionSource, max_length=16, default=TransitionSource.API)
    amount_before = money(null=True)
    amount_after = money()
    probability_before = fields.IntField(null=True)
    probability_after = fields.IntField()

    class Meta:
        table = "stage_transitions"
