"""Customer interactions (calls, emails, meetings, …) and who took part."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import Direction, InteractionType, Outcome, ParticipantRole
from app.models.base import created_at

if TYPE_CHECKING:
    from app.models.accounts import Account, Contact
    from app.models.opportunities import Opportunity
    from app.models.users import User


class CustomerInteraction(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="interactions", on_delete=fields.CASCADE
    )
    account_id: int
    contact: fields.ForeignKeyNullableRelation["Contact"] = fields.ForeignKeyField(
        "models.Contact", related_name="interactions", null=True, on_delete=fields.SET_NULL
    )
    contact_id: int | None
    opportunity: fields.ForeignKeyNullableRelation["Opportunity"] = fields.ForeignKeyField(
        "models.Opportunity", related_name="interactions", null=True, on_delete=fields.SET_NULL, db_index=True
    )
    opportunity_id: int | None
    type = fields.CharEnumField(InteractionType, max_length=16)
    direction = fields.CharEnumField(Direction, max_length=16, default=Direction.OUTBOUND)
    subject = fields.CharField(max_length=300)
    description = fields.TextField(default="")
    outcome = fields.CharEnumField(Outcome, max_length=16, null=True)
    sentiment = fields.FloatField(null=True)
    sentiment_label = fields.CharField(max_length=16, null=True)
    next_steps = fields.TextField(default="")
    follow_up_date = fields.DatetimeField(null=True)
    attachments: fields.JSONField[list[str]] = fields.JSONField(default=list)
    duration_minutes = fields.IntField(null=True)
    location = fields.CharField(max_length=300, default="")
    occurred_at = fields.DatetimeField(db_index=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="interactions", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = created_at()
    # For `updatedSince` (set by every save; null only before migration 0009 backfilled it).
    updated_at = fields.DatetimeField(null=True, auto_now=True)
    # Archived (app.domain.archive): out of lists, search and the open pipeline, found by id, restorable.
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "customer_interactions"
        indexes = (("account_id", "occurred_at"),)


class InteractionParticipant(Model):
    id = fields.IntField(primary_key=True)
    interaction: fields.ForeignKeyRelation["CustomerInteraction"] = fields.ForeignKeyField(
        "models.CustomerInteraction", related_name="participants", on_delete=fields.CASCADE, db_index=True
    )
    interaction_id: int
    contact: fields.ForeignKeyRelation["Contact"] = fields.ForeignKeyField(
        "models.Contact", related_name="participations", on_delete=fields.CASCADE
    )
    contact_id: int
    role = fields.CharEnumField(ParticipantRole, max_length=16, default=ParticipantRole.ATTENDEE)
    attended = fields.BooleanField(default=True)
    feedback = fields.TextField(default="")

    class Meta:
        table = "interaction_participants"
