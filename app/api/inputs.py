"""GraphQL inputs. UNSET means "leave as it is"; null means "clear" where the field allows it."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from decimal import Decimal
from typing import Optional

import strawberry
from strawberry import UNSET

from app.api.enums import (
    AccountSize,
    AccountStatus,
    AccountTier,
    ActivityType,
    ContactRole,
    ContractStatus,
    DocumentType,
    Industry,
    OpportunitySource,
    Outcome,
    ProductCategory,
    ProductUnit,
    Role,
    SortDirection,
    TeamRole,
)

ID = strawberry.ID


@strawberry.input
class AddressInput:
    street: Optional[str] = None
    city: Optional[str] = None
    region: Optional[str] = None
    postal_code: Optional[str] = None
    country: Optional[str] = None


# Accounts ------------------------------------------------------------------------------


@strawberry.input
class CreateAccountInput:
    name: str
    industry: Industry = Industry.RESTAURANT
    size: AccountSize = AccountSize.SMALL
    annual_revenue: Optional[Decimal] = None
    headquarters: Optional[AddressInput] = None
    parent_id: Optional[ID] = None
    status: AccountStatus = AccountStatus.PROSPECT
    tier: AccountTier = AccountTier.STANDARD
    assigned_to_id: Optional[ID] = UNSET
    renewal_date: Optional[date] = None


@strawberry.input
class UpdateAccountInput:
    name: Optional[str] = UNSET
    industry: Optional[Industry] = UNSET
    size: Optional[AccountSize] = UNSET
    annual_revenue: Optional[Decimal] = UNSET
    headquarters: Optional[AddressInput] = UNSET
    parent_id: Optional[ID] = UNSET
    status: Optional[AccountStatus] = UNSET
    tier: Optional[AccountTier] = UNSET
    assigned_to_id: Optional[ID] = UNSET
    renewal_date: Optional[date] = UNSET


@strawberry.input
class AccountFilter:
    search: Optional[str] = None
    industry: Optional[list[Industry]] = None
    tier: Optional[list[AccountTier]] = None
    status: Optional[list[AccountStatus]] = None
    assigned_to: Optional[list[ID]] = None
    parent_id: Optional[ID] = None
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")


@strawberry.enum
class AccountOrderField(Enum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input
class AccountOrder:
    field: AccountOrderField = AccountOrderField.NAME
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class LocationInput:
    name: Optional[str] = UNSET
    street: Optional[str] = UNSET
    city: Optional[str] = UNSET
    region: Optional[str] = UNSET
    postal_code: Optional[str] = UNSET
    country: Optional[str] = UNSET
    phone: Optional[str] = UNSET
    delivery_notes: Optional[str] = UNSET
    is_primary: Optional[bool] = UNSET


@strawberry.input
class AddTeamMemberInput:
    account_id: ID
    user_id: ID
    role: TeamRole
    is_primary: bool = False
    start_date: Optional[date] = UNSET
    end_date: Optional[date] = None


@strawberry.input
class UpdateTeamMemberInput:
    role: Optional[TeamRole] = UNSET
    is_primary: Optional[bool] = UNSET
    start_date: Optional[date] = UNSET
    end_date: Optional[date] = UNSET


@strawberry.input
class ContractInput:
    name: Optional[str] = UNSET
    value: Optional[Decimal] = UNSET
    start_date: Optional[date] = UNSET
    end_date: Optional[date] = UNSET
    status: Optional[ContractStatus] = UNSET


@strawberry.input
class ContactInput:
    first_name: Optional[str] = UNSET
    last_name: Optional[str] = UNSET
    email: Optional[str] = UNSET
    phone: Optional[str] = UNSET
    title: Optional[str] = UNSET
    role: Optional[ContactRole] = UNSET
    is_primary: Optional[bool] = UNSET


@strawberry.input
class ContactFilter:
    account_id: Optional[ID] = None
    search: Optional[str] = None
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")


# Products ------------------------------------------------------------------------------


@strawberry.input
class ProductInput:
    sku: Optional[str] = UNSET
    name: Optional[str] = UNSET
    category: Optional[ProductCategory] = UNSET
    unit: Optional[ProductUnit] = UNSET
    unit_price: Optional[Decimal] = UNSET
    description: Optional[str] = UNSET
    is_active: Optional[bool] = UNSET


@strawberry.input
class ProductFilter:
    search: Optional[str] = None
    category: Optional[list[ProductCategory]] = None
    active_only: bool = True
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")


@strawberry.input
class UserFilter:
    role: Optional[list[Role]] = None
    search: Optional[str] = None


# Opportunities -------------------------------------------------------------------------


@strawberry.input
class CreateOpportunityInput:
    name: str
    account_id: ID
    expected_close_date: date
    contact_id: Optional[ID] = None
    pipeline_id: Optional[ID] = None
    stage: Optional[str] = strawberry.field(default=None, description="An open stage key; default the first.")
    value: Decimal = Decimal("0")
    budget: Optional[Decimal] = None
    probability: Optional[int] = strawberry.field(default=None, description="Manager override of the stage's.")
    source: OpportunitySource = OpportunitySource.OTHER
    assigned_to_id: Optional[ID] = UNSET
    next_step: str = ""
    description: str = ""


@strawberry.input
class UpdateOpportunityInput:
    name: Optional[str] = UNSET
    contact_id: Optional[ID] = UNSET
    value: Optional[Decimal] = UNSET
    budget: Optional[Decimal] = UNSET
    probability: Optional[int] = UNSET
    expected_close_date: Optional[date] = UNSET
    source: Optional[OpportunitySource] = UNSET
    assigned_to_id: Optional[ID] = UNSET
    next_step: Optional[str] = UNSET
    description: Optional[str] = UNSET


@strawberry.input
class OpportunityFilter:
    stage: Optional[list[str]] = None
    assigned_to: Optional[list[ID]] = None
    account_id: Optional[ID] = None
    pipeline_id: Optional[ID] = None
    value_min: Optional[Decimal] = None
    value_max: Optional[Decimal] = None
    expected_close_from: Optional[date] = None
    expected_close_to: Optional[date] = None
    search: Optional[str] = None
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")


@strawberry.enum
class OpportunityOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    VALUE = "value"
    EXPECTED_CLOSE_DATE = "expected_close_date"
    NAME = "name"


@strawberry.input
class OpportunityOrder:
    field: OpportunityOrderField = OpportunityOrderField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class AddOpportunityProductInput:
    opportunity_id: ID
    product_id: ID
    quantity: Decimal
    unit_price: Optional[Decimal] = strawberry.field(default=None, description="Default: the catalogue price.")
    discount: Optional[Decimal] = strawberry.field(default=None, description="Percent, 0–100.")


@strawberry.input
class UpdateOpportunityProductInput:
    quantity: Optional[Decimal] = UNSET
    unit_price: Optional[Decimal] = UNSET
    discount: Optional[Decimal] = UNSET


@strawberry.input
class ActivityInput:
    type: Optional[ActivityType] = UNSET
    subject: Optional[str] = UNSET
    description: Optional[str] = UNSET
    outcome: Optional[Outcome] = UNSET
    next_steps: Optional[str] = UNSET
    scheduled_at: Optional[datetime] = UNSET
    completed_at: Optional[datetime] = UNSET


@strawberry.input
class AddDocumentInput:
    opportunity_id: ID
    name: str
    url: str
    type: DocumentType = DocumentType.OTHER
    content_type: str = ""
