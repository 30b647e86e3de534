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
    StageKind,
    TeamRole,
    ValueSource,
)

ID = strawberry.ID

# Marks an input field the client may leave out but not send as null (the record always has a value):
# app/api/errors.py input_data answers an explicit null with a payload error {field, code: REQUIRED}.
NOT_NULL = "not_null"


def not_null(description: str | None = None):
    """Leave it out to keep the current value (or the default); null is refused."""
    return strawberry.field(default=UNSET, metadata={NOT_NULL: True}, description=description)


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
    assigned_to_id: Optional[ID] = not_null()
    renewal_date: Optional[date] = None


@strawberry.input
class UpdateAccountInput:
    name: Optional[str] = not_null()
    industry: Optional[Industry] = not_null()
    size: Optional[AccountSize] = not_null()
    annual_revenue: Optional[Decimal] = UNSET
    headquarters: Optional[AddressInput] = UNSET
    parent_id: Optional[ID] = UNSET
    status: Optional[AccountStatus] = not_null()
    tier: Optional[AccountTier] = not_null()
    assigned_to_id: Optional[ID] = not_null()
    renewal_date: Optional[date] = UNSET


ARCHIVED_FILTER = ("false (the default): active records only; true: only archived ones (archiveOpportunity, "
                   "archiveAccount, … put records away; restore… brings them back).")


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
    archived: bool = strawberry.field(default=False, description=ARCHIVED_FILTER)


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
    name: Optional[str] = not_null()
    street: Optional[str] = not_null()
    city: Optional[str] = not_null()
    region: Optional[str] = not_null()
    postal_code: Optional[str] = not_null()
    country: Optional[str] = not_null()
    phone: Optional[str] = not_null()
    delivery_notes: Optional[str] = not_null()
    is_primary: Optional[bool] = not_null()


@strawberry.input
class AddTeamMemberInput:
    account_id: ID
    user_id: ID
    role: TeamRole
    is_primary: bool = False
    start_date: Optional[date] = not_null()
    end_date: Optional[date] = None


@strawberry.input
class UpdateTeamMemberInput:
    role: Optional[TeamRole] = not_null()
    is_primary: Optional[bool] = not_null()
    start_date: Optional[date] = not_null()
    end_date: Optional[date] = UNSET


@strawberry.input
class ContractInput:
    name: Optional[str] = not_null()
    value: Optional[Decimal] = not_null()
    start_date: Optional[date] = not_null()
    end_date: Optional[date] = not_null()
    status: Optional[ContractStatus] = not_null()


@strawberry.input
class ContactInput:
    first_name: Optional[str] = not_null()
    last_name: Optional[str] = not_null()
    email: Optional[str] = UNSET
    phone: Optional[str] = not_null()
    title: Optional[str] = not_null()
    role: Optional[ContactRole] = not_null()
    is_primary: Optional[bool] = not_null()


@strawberry.input
class ContactFilter:
    account_id: Optional[ID] = None
    search: Optional[str] = None
    updated_since: Optional[datetime] = strawberry.field(
        default=None, description="Only records created or changed at or after this moment (offline sync).")
    archived: bool = strawberry.field(default=False, description=ARCHIVED_FILTER)


# Products ------------------------------------------------------------------------------


@strawberry.input
class ProductInput:
    sku: Optional[str] = not_null()
    name: Optional[str] = not_null()
    category: Optional[ProductCategory] = not_null()
    unit: Optional[ProductUnit] = not_null()
    unit_price: Optional[Decimal] = not_null()
    description: Optional[str] = not_null()
    is_active: Optional[bool] = not_null()


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
    value: Optional[Decimal] = strawberry.field(
        default=None, description="A typed value (valueSource MANUAL). Left out: the value follows the product lines "
                                  "(valueSource PRODUCTS), 0 until there are some.")
    value_source: Optional[ValueSource] = strawberry.field(
        default=None, description="Default: MANUAL when a value is given, else PRODUCTS.")
    budget: Optional[Decimal] = None
    probability: Optional[int] = strawberry.field(default=None, description="Manager override of the stage's.")
    source: OpportunitySource = OpportunitySource.OTHER
    assigned_to_id: Optional[ID] = not_null()
    next_step: str = ""
    description: str = ""


@strawberry.input
class UpdateOpportunityInput:
    name: Optional[str] = not_null()
    contact_id: Optional[ID] = UNSET
    value: Optional[Decimal] = not_null(
        "A typed value: valueSource becomes MANUAL, and product lines no longer change it.")
    value_source: Optional[ValueSource] = not_null(
        "PRODUCTS: the value becomes (and stays) the sum of the product lines; MANUAL: the current value is kept.")
    budget: Optional[Decimal] = UNSET
    probability: Optional[int] = not_null()
    expected_close_date: Optional[date] = not_null()
    source: Optional[OpportunitySource] = not_null()
    assigned_to_id: Optional[ID] = not_null()
    next_step: Optional[str] = not_null()
    description: Optional[str] = not_null()


@strawberry.input
class OpportunityFilter:
    status: Optional[list[StageKind]] = strawberry.field(
        default=None, description="OPEN (any open stage), WON, LOST: the kind of the deal's stage.")
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
    stale: Optional[bool] = strawberry.field(
        default=None, description="true: only deals `isStale` calls stale now (open, longer in their stage than "
                                  "its expected duration, nothing scheduled ahead); false: only the others.")
    overdue: Optional[bool] = strawberry.field(
        default=None, description="true: only open deals whose expected close date has passed (UTC); false: the others.")
    archived: bool = strawberry.field(default=False, description=ARCHIVED_FILTER)


@strawberry.enum
class OpportunityOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    VALUE = "value"
    EXPECTED_CLOSE_DATE = "expected_close_date"
    NAME = "name"
    STAGE_ENTERED_AT = strawberry.enum_value(
        "stage_entered_at", description="When the deal entered its stage: ASC puts the longest in their stage (most "
                                        "days in stage) first.")
    LAST_ACTIVITY_AT = strawberry.enum_value(
        "last_activity_at", description="`lastActivityAt`: DESC the most recently worked first, ASC the longest "
                                        "untouched first; deals never worked come last either way.")

    @property
    def nullable(self) -> bool:
        """Deals may have no value for it: they are paged after the others (nulls last)."""
        return self is OpportunityOrderField.LAST_ACTIVITY_AT


@strawberry.input
class OpportunityOrder:
    field: OpportunityOrderField = OpportunityOrderField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class AddOpportunityProductInput:
    opportunity_id: ID
    product_id: ID
    quantity: Decimal = strawberry.field(description="Units of the product (its unit); per week with contractWeeks.")
    unit_price: Optional[Decimal] = strawberry.field(default=None, description="Default: the catalogue price.")
    discount: Optional[Decimal] = strawberry.field(default=None, description="Percent, 0–100.")
    contract_weeks: Optional[int] = strawberry.field(
        default=None, description="A supply contract of `quantity` per week for this many weeks (1–520); "
                                  "left out: a one-off order.")


@strawberry.input
class UpdateOpportunityProductInput:
    quantity: Optional[Decimal] = not_null()
    unit_price: Optional[Decimal] = not_null()
    discount: Optional[Decimal] = not_null()
    contract_weeks: Optional[int] = strawberry.field(default=UNSET, description="null: make it a one-off order.")


@strawberry.input
class ActivityInput:
    type: Optional[ActivityType] = not_null()
    subject: Optional[str] = not_null()
    description: Optional[str] = not_null()
    outcome: Optional[Outcome] = UNSET
    next_steps: Optional[str] = not_null()
    scheduled_at: Optional[datetime] = UNSET
    completed_at: Optional[datetime] = UNSET


@strawberry.input
class AddDocumentInput:
    opportunity_id: ID
    name: str
    url: str
    type: DocumentType = DocumentType.OTHER
    content_type: str = ""
