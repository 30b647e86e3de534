"""Customer accounts with their hierarchy, locations, team, contracts and contacts."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import (
    AccountSize,
    AccountStatus,
    AccountTier,
    ContactRole,
    ContractStatus,
    Industry,
    TeamRole,
)
from app.models.base import JSONObject, created_at, money, updated_at

if TYPE_CHECKING:
    from app.models.users import User


class Account(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, db_index=True)
    industry = fields.CharEnumField(Industry, max_length=32, default=Industry.RESTAURANT)
    size = fields.CharEnumField(AccountSize, max_length=16, default=AccountSize.SMALL)
    annual_revenue = money(null=True)
    headquarters: fields.JSONField[JSONObject | None] = fields.JSONField(null=True)
    parent: fields.ForeignKeyNullableRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="subsidiaries", null=True, on_delete=fields.RESTRICT, db_index=True
    )
    parent_id: int | None
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.PROSPECT)
    tier = fields.CharEnumField(AccountTier, max_length=16, default=AccountTier.STANDARD)
    assigned_to: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="accounts", on_delete=fields.RESTRICT, db_index=True
    )
    assigned_to_id: int
    health_score = fields.IntField(null=True)
    last_activity_date = fields.DatetimeField(null=True)
    renewal_date = fields.DateField(null=True)
    created_at = created_at()
    updated_at = updated_at()
    # Archived (app.domain.archive): out of lists, search and the open pipeline, found by id, restorable.
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts"


class Location(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="locations", on_delete=fields.CASCADE, db_index=True
    )
    account_id: int
    name = fields.CharField(max_length=200)
    street = fields.CharField(max_length=200, default="")
    city = fields.CharField(max_length=100, default="")
    region = fields.CharField(max_length=100, default="")
    postal_code = fields.CharField(max_length=20, default="")
    country = fields.CharField(max_length=2, default="US")
    phone = fields.CharField(max_length=40, default="")
    delivery_notes = fields.TextField(default="")
    is_primary = fields.BooleanField(default=False)
    created_at = created_at()

    class Meta:
        table = "locations"


class AccountTeamMember(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="team_members", on_delete=fields.CASCADE
    )
    account_id: int
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="account_memberships", on_delete=fields.CASCADE
    )
    user_id: int
    role = fields.CharEnumField(TeamRole, max_length=32)
    is_primary = fields.BooleanField(default=False)
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)
    created_at = created_at()

    class Meta:
        table = "account_team_members"
        unique_together = (("account", "user", "role"),)


class Contract(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="contracts", on_delete=fields.CASCADE, db_index=True
    )
    account_id: int
    name = fields.CharField(max_length=200)
    value = money()
    start_date = fields.DateField()
    end_date = fields.DateField()
    status = fields.CharEnumField(ContractStatus, max_length=16, default=ContractStatus.ACTIVE)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "contracts"


class Contact(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="contacts", on_delete=fields.CASCADE, db_index=True
    )
    account_id: int
    first_name = fields.CharField(max_length=100)
    last_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=40, default="")
    title = fields.CharField(max_length=120, default="")
    role = fields.CharEnumField(ContactRole, max_length=16, default=ContactRole.OTHER)
    is_primary = fields.BooleanField(default=False)
    # Set when the person's data was erased (app.services.personal_data): the row stays, anonymised.
    erased_at = fields.DatetimeField(null=True)
    # Archived (app.domain.archive): out of lists, search and the open pipeline, found by id, restorable.
    archived_at = fields.DatetimeField(null=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "contacts"
