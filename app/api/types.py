"""GraphQL object types. Each resolves from its Tortoise model; relations go through DataLoaders, which
return only what the caller may read (app.queries.visibility): null or absent otherwise.

At runtime `self` in a resolver is the model row: the foreign keys' columns a resolver reads are declared
as `strawberry.Private` fields (typed, never in the schema), and a resolver returning rows `cast`s them to
the GraphQL type for type checkers."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Optional, cast

import strawberry

from app.api.context import CtxInfo
from app.api.relay import child_connection
from app.api.user_input import bad_user_input
from app.domain.enums import ActivityType as ActivityTypeEnum
from app.domain.global_ids import decode_global_id, global_id
from app.domain import opportunities as deal_rules
from app.domain.errors import ValidationFailed
from app.domain.history import tracked_field_names
from app.domain.pipeline import is_stale as stale_rule
from app.services.stages import to_spec
from app.api.enums import (
    AccountSize,
    AccountStatus,
    AccountTier,
    ActivityType,
    ContactRole,
    ContractStatus,
    DocumentType,
    ErrorCode,
    ForecastCategory,
    Industry,
    OpportunitySource,
    Outcome,
    Pricing,
    ProductCategory,
    ProductUnit,
    Role,
    StageKind,
    TeamRole,
    TransitionSource,
    ValueSource,
)

if TYPE_CHECKING:
    from tortoise.models import Model

    from app import models as m
    from app.api.competition import BattleCard
    from app.api.history import FieldHistoryConnection
    from app.api.interactions import CustomerInteraction, CustomerInteractionConnection
    from app.api.work import TaskConnection


@strawberry.interface(description="A record with a globally unique id (Relay's object identification): "
                                  "fetch any record again with `node(id:)`.")
class Node:
    @strawberry.field(description="Globally unique and opaque: pass it back as it is.")
    def id(self, info: CtxInfo) -> strawberry.ID:
        # `self` is the model row (see the module's note); the type's name is the one being resolved.
        row = cast("Model", self)  # or a type instance that keeps its row's key as `pk`
        return strawberry.ID(global_id(info._raw_info.parent_type.name, row.pk))

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        """Rows are model instances: a row is of the GraphQL type named like its model."""
        return isinstance(obj, cls) or type(obj).__name__ == cls.__name__


def node_id(type_name: str, pk: int) -> strawberry.ID:
    """The global id of a record, for fields that name a record without resolving it."""
    return strawberry.ID(global_id(type_name, pk))


def node_pk(value: strawberry.ID, type_name: str) -> int:
    """The primary key behind an id this API rendered with node_id."""
    return decode_global_id(value, type_name)


async def _history(info: CtxInfo, record_type: str, record_id: int, first: int | None, after: str | None,
                   fields: list[str] | None, field: str | None = None) -> "FieldHistoryConnection":
    """A record's field history page; `fields` (and `field`, for one) must name tracked fields (else
    BAD_USER_INPUT)."""
    tracked = tracked_field_names(record_type)
    if field is not None:
        fields = [*(fields or []), field]
    if fields is not None and (not fields or set(fields) - set(tracked)):
        unknown = sorted(set(fields) - set(tracked))
        reason = f"unknown fields {unknown}" if unknown else "name at least one field"
        raise bad_user_input(ValidationFailed.single("fields", f"{reason}; tracked: {', '.join(tracked)}"))
    pages = info.context.loaders.history(record_type, tuple(sorted(set(fields))) if fields else None)
    return cast("FieldHistoryConnection", await child_connection(pages, record_id, first, after))


ARCHIVED_AT = ("When it was archived (archive…): out of lists, search and the open pipeline until restore… brings it "
               "back; null: active.")


@strawberry.type(description="An expected failure: which input field, why, and a machine-readable code.")
class UserError:
    field: Optional[str]
    message: str
    code: ErrorCode


@strawberry.type
class Address:
    street: Optional[str] = None
    city: Optional[str] = None
    region: Optional[str] = None
    postal_code: Optional[str] = None
    country: Optional[str] = None

    @classmethod
    def from_json(cls, data: dict | None) -> Optional["Address"]:
        if not data:
            return None
        return cls(
            street=data.get("street"), city=data.get("city"), region=data.get("region"),
            postal_code=data.get("postalCode"), country=data.get("country"),
        )


@strawberry.type
class User(Node):
    email: str
    name: str
    role: Role
    timezone: str
    is_active: bool
    created_at: datetime
    manager_id: strawberry.Private[Optional[int]]

    @strawberry.field
    async def manager(self, info: CtxInfo) -> Optional["User"]:
        return await info.context.loaders.user.load(self.manager_id) if self.manager_id else None


@strawberry.type
class Location(Node):
    name: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str
    delivery_notes: str
    is_primary: bool


@strawberry.type
class AccountTeamMember(Node):
    role: TeamRole
    is_primary: bool
    start_date: date
    end_date: Optional[date]
    user_id: strawberry.Private[int]

    @strawberry.field(description="The member; null when the user is outside what you may see.")
    async def user(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.user_id)


@strawberry.type
class Contract(Node):
    name: str
    value: Decimal
    start_date: date
    end_date: date
    status: ContractStatus


@strawberry.type
class Contact(Node):
    first_name: str
    last_name: str
    email: Optional[str]
    phone: str
    title: str
    role: ContactRole
    is_primary: bool
    erased_at: Optional[datetime] = strawberry.field(
        description="When the person's data was erased (eraseContact): the contact stays, anonymised.")
    archived_at: Optional[datetime] = strawberry.field(description=ARCHIVED_AT)
    account_id: strawberry.Private[int]

    @strawberry.field
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @strawberry.field
    async def account(self, info: CtxInfo) -> "Account":
        return await info.context.loaders.account.load(self.account_id)

    @strawberry.field(description="Every change to the record's fields, newest first; `fields` (or `field`, for "
                                  "one) keeps only those fields (names as in the type).")
    async def history(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None, fields: Optional[list[str]] = None,
        field: Optional[str] = None,
    ) -> Annotated["FieldHistoryConnection", strawberry.lazy("app.api.history")]:
        return await _history(info, "contact", cast("Model", self).pk, first, after, fields, field)


@strawberry.type
class Account(Node):
    name: str
    industry: Industry
    size: AccountSize
    annual_revenue: Optional[Decimal]
    status: AccountStatus
    tier: AccountTier
    health_score: Optional[int] = strawberry.field(description=(
        "The account's own health (0–100), stored by the worker when its data changes (null until first computed): "
        "its own deals, interactions and contracts only, and every one of them whatever the caller may see. "
        "`accountHealth(accountId, includeSubsidiaries: true)` computes a chain's score live instead, over the "
        "account and the subsidiaries you can see, so the two differ for a chain (e.g. a quiet headquarters "
        "with busy subsidiaries)."))
    last_activity_date: Optional[datetime]
    renewal_date: Optional[date]
    created_at: datetime
    updated_at: datetime
    archived_at: Optional[datetime] = strawberry.field(description=ARCHIVED_AT)
    parent_id: strawberry.Private[Optional[int]]
    assigned_to_id: strawberry.Private[int]

    @strawberry.field
    def headquarters(self) -> Optional[Address]:
        row = cast("m.Account", self)  # the model row, whose headquarters is the stored JSON
        return Address.from_json(row.headquarters)

    @strawberry.field
    async def parent(self, info: CtxInfo) -> Optional["Account"]:
        return await info.context.loaders.account.load(self.parent_id) if self.parent_id else None

    @strawberry.field
    async def subsidiaries(self, info: CtxInfo) -> list["Account"]:
        return await info.context.loaders.account_subsidiaries.load(self.id)

    @strawberry.field(description="The owner; null when the user is outside what you may see.")
    async def assigned_to(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.assigned_to_id)

    @strawberry.field
    async def locations(self, info: CtxInfo) -> list[Location]:
        return await info.context.loaders.account_locations.load(self.id)

    @strawberry.field
    async def team_members(self, info: CtxInfo) -> list[AccountTeamMember]:
        return await info.context.loaders.account_team.load(self.id)

    @strawberry.field
    async def contracts(self, info: CtxInfo) -> list[Contract]:
        return await info.context.loaders.account_contracts.load(self.id)

    @strawberry.field
    async def contacts(self, info: CtxInfo) -> list[Contact]:
        return await info.context.loaders.account_contacts.load(self.id)

    @strawberry.field(description="The account's opportunities that the caller may see.")
    async def opportunities(self, info: CtxInfo) -> list["Opportunity"]:
        return await info.context.loaders.account_opportunities.load(self.id)

    @strawberry.field(description="What the account takes per week now, per unit: the contract lines of its won "
                                  "deals (those you may see) still supplying (from the close date, for their weeks).")
    async def weekly_volume(self, info: CtxInfo) -> list[UnitVolume]:
        return UnitVolume.listed(deal_rules.account_weekly_volume(await _won_deals(info, self.id), _today()))

    @strawberry.field(description="A year of the account's current business: Σ `annualizedValue` of its won deals "
                                  "(those you may see) closed in the last 52 weeks or with a contract line still "
                                  "supplying.")
    async def annualized_value(self, info: CtxInfo) -> Decimal:
        return deal_rules.account_annualized_value(await _won_deals(info, self.id), _today())

    @strawberry.field(description="Customer interactions with the account, newest first (those you may see).")
    async def interactions(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
    ) -> Annotated["CustomerInteractionConnection", strawberry.lazy("app.api.interactions")]:
        connection = await child_connection(info.context.loaders.account_interactions, self.id, first, after)
        return cast("CustomerInteractionConnection", connection)

    @strawberry.field(description="Every change to the record's fields, newest first; `fields` (or `field`, for "
                                  "one) keeps only those fields (names as in the type).")
    async def history(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None, fields: Optional[list[str]] = None,
        field: Optional[str] = None,
    ) -> Annotated["FieldHistoryConnection", strawberry.lazy("app.api.history")]:
        return await _history(info, "account", cast("Model", self).pk, first, after, fields, field)


@strawberry.type
class Product(Node):
    sku: str
    name: str
    category: ProductCategory
    unit: ProductUnit
    unit_price: Decimal
    description: str
    is_active: bool


@strawberry.type
class PipelineStage(Node):
    key: str
    name: str
    order: int
    kind: StageKind
    probability: int
    expected_duration_days: int
    forecast_category: ForecastCategory
    requirements: strawberry.scalars.JSON = strawberry.field(description=(
        "Gates: [{type, field?, value?, when?}], type one of activity_completed, field_populated, minimum_value, "
        "products_selected; when \"entry\" (default: needed to come into this stage, and checked when a deal is "
        "created in it) or \"exit\" (needed to move on from it)."))
    automations: strawberry.scalars.JSON


@strawberry.type
class Pipeline(Node):
    name: str
    is_default: bool

    @strawberry.field
    async def stages(self, info: CtxInfo) -> list[PipelineStage]:
        return await info.context.loaders.pipeline_stages.load(self.id)


@strawberry.type(description="A quantity per week in one unit of measure (cases and pounds never add up).")
class UnitVolume:
    unit: ProductUnit
    quantity: Decimal

    @staticmethod
    def listed(volume: dict[str, Decimal]) -> list["UnitVolume"]:
        return [UnitVolume(unit=ProductUnit(unit), quantity=quantity) for unit, quantity in volume.items()]


@strawberry.type(description="A product on a deal: a one-off order of `quantity` units, or, with `contractWeeks`, a "
                             "supply contract of `quantity` units (the product's unit: cases, pounds, …) per week.")
class OpportunityProduct(Node):
    quantity: Decimal = strawberry.field(description="Units of the product; per week on a contract line.")
    unit_price: Decimal
    discount: Decimal = strawberry.field(description="Percent, 0–100.")
    contract_weeks: Optional[int] = strawberry.field(
        description="Weeks of supply on a contract line; null: a one-off order.")
    total_price: Decimal = strawberry.field(
        description="quantity × unitPrice × (1 − discount %) [× contractWeeks]: the order's or the contract's value.")
    product_id: strawberry.Private[int]

    @strawberry.field(description="Units per week on a contract line; null on a one-off order.")
    def weekly_quantity(self) -> Optional[Decimal]:
        return self.quantity if self.contract_weeks is not None else None

    @strawberry.field(description="A contract line: 52 weeks of its weekly value; a one-off order: its total.")
    async def annualized_value(self, info: CtxInfo) -> Decimal:
        return (await product_lines(info, [self]))[0].annualized_value

    @strawberry.field
    async def product(self, info: CtxInfo) -> Product:
        return await info.context.loaders.product.load(self.product_id)

    @strawberry.field
    async def name(self, info: CtxInfo) -> str:
        return (await info.context.loaders.product.load(self.product_id)).name


async def product_lines(info: CtxInfo, rows: list["OpportunityProduct"]) -> list[deal_rules.Line]:
    """The volume rules' view of product lines (each line's unit is its product's)."""
    products = await info.context.loaders.product.load_many([row.product_id for row in rows])
    return [deal_rules.Line(quantity=row.quantity, unit_price=row.unit_price, discount=row.discount,
                            contract_weeks=row.contract_weeks, unit=product.unit.value if product else "",
                            total_price=row.total_price) for row, product in zip(rows, products, strict=True)]


async def deal_lines(info: CtxInfo, opportunity_id: int) -> list[deal_rules.Line]:
    return await product_lines(info, await info.context.loaders.opportunity_products.load(opportunity_id))


def _today() -> date:
    return datetime.now(timezone.utc).date()


async def _won_deals(info: CtxInfo, account_id: int) -> list[deal_rules.WonDeal]:
    loaders = info.context.loaders
    deals = await loaders.account_opportunities.load(account_id)
    stages = await loaders.stage.load_many([deal.stage_id for deal in deals])
    won = [deal for deal, stage in zip(deals, stages, strict=True) if stage is not None and stage.kind == StageKind.WON]
    line_sets = await asyncio.gather(*(deal_lines(info, deal.id) for deal in won))
    return [deal_rules.WonDeal(closed_on=deal.actual_close_date, value=deal.value, source=deal.value_source,
                               lines=lines) for deal, lines in zip(won, line_sets, strict=True)]


@strawberry.type
class OpportunityActivity(Node):
    type: ActivityType
    subject: str
    description: str
    outcome: Optional[Outcome]
    next_steps: str
    scheduled_at: Optional[datetime]
    completed_at: Optional[datetime]
    created_at: datetime
    archived_at: Optional[datetime] = strawberry.field(description=ARCHIVED_AT)
    created_by_id: strawberry.Private[Optional[int]]
    interaction_id: strawberry.Private[Optional[int]]

    @strawberry.field
    async def created_by(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.created_by_id) if self.created_by_id else None

    @strawberry.field(description="A customer contact made on the deal: the interaction that records it (null for "
                                  "deal work, or when you may not see it).")
    async def interaction(
        self, info: CtxInfo,
    ) -> Optional[Annotated["CustomerInteraction", strawberry.lazy("app.api.interactions")]]:
        return await info.context.loaders.interaction.load(self.interaction_id) if self.interaction_id else None


@strawberry.type
class OpportunityDocument(Node):
    name: str
    type: DocumentType
    url: Optional[str]
    content_type: str
    created_at: datetime


@strawberry.type
class StageTransition(Node):
    at: datetime
    source: TransitionSource
    amount_before: Optional[Decimal]
    amount_after: Decimal
    probability_before: Optional[int]
    probability_after: int
    from_stage_id: strawberry.Private[Optional[int]]
    to_stage_id: strawberry.Private[int]
    by_id: strawberry.Private[Optional[int]]

    @strawberry.field
    async def from_stage(self, info: CtxInfo) -> Optional[PipelineStage]:
        return await info.context.loaders.stage.load(self.from_stage_id) if self.from_stage_id else None

    @strawberry.field
    async def to_stage(self, info: CtxInfo) -> PipelineStage:
        return await info.context.loaders.stage.load(self.to_stage_id)

    @strawberry.field
    async def by(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(self.by_id) if self.by_id else None


@strawberry.type
class Competitor(Node):
    name: str
    website: str
    description: str
    strengths: list[str]
    weaknesses: list[str]
    pricing: Pricing
    market_share: Decimal
    incumbent_categories: list[str]

    @strawberry.field
    async def battlecards(
        self, info: CtxInfo
    ) -> list[Annotated["BattleCard", strawberry.lazy("app.api.competition")]]:
        return await info.context.loaders.competitor_battlecards.load(self.id)


@strawberry.type
class Opportunity(Node):
    name: str
    probability: int
    probability_overridden: bool
    value: Decimal
    value_source: ValueSource = strawberry.field(
        description="MANUAL: the value was typed and product lines leave it alone; PRODUCTS: the value is the sum of "
                    "the product lines' totals. Setting `value` makes it MANUAL; setting PRODUCTS recomputes it.")
    budget: Optional[Decimal]
    expected_close_date: date
    actual_close_date: Optional[date]
    source: OpportunitySource
    lost_reason: Optional[str] = strawberry.field(description="Free-text detail of a loss.")
    lost_reason_key: Optional[str] = strawberry.field(
        description="Closed as lost: the key of its `lostReasons` entry (the picklist win/loss groups by).")
    next_step: str
    description: str
    forecast_category: ForecastCategory
    version: int
    stage_entered_at: datetime
    last_activity_at: Optional[datetime] = strawberry.field(
        description="When the deal was last worked: its latest done activity (system entries aside); null if never.")
    created_at: datetime
    updated_at: datetime
    archived_at: Optional[datetime] = strawberry.field(description=ARCHIVED_AT)
    stage_id: strawberry.Private[int]
    pipeline_id: strawberry.Private[int]
    account_id: strawberry.Private[int]
    contact_id: strawberry.Private[Optional[int]]
    assigned_to_id: strawberry.Private[int]

    @strawberry.field(description="The key of the current stage, e.g. 'proposal'.")
    async def stage(self, info: CtxInfo) -> str:
        return (await info.context.loaders.stage.load(self.stage_id)).key

    @strawberry.field
    async def pipeline_stage(self, info: CtxInfo) -> PipelineStage:
        return await info.context.loaders.stage.load(self.stage_id)

    @strawberry.field
    async def pipeline(self, info: CtxInfo) -> Pipeline:
        return await info.context.loaders.pipeline.load(self.pipeline_id)

    @strawberry.field
    async def account(self, info: CtxInfo) -> Account:
        return await info.context.loaders.account.load(self.account_id)

    @strawberry.field
    async def contact(self, info: CtxInfo) -> Optional[Contact]:
        return await info.context.loaders.contact.load(self.contact_id) if self.contact_id else None

    @strawberry.field
    async def assigned_to(self, info: CtxInfo) -> User:
        return await info.context.loaders.user.load(self.assigned_to_id)

    @strawberry.field
    async def products(self, info: CtxInfo) -> list[OpportunityProduct]:
        return await info.context.loaders.opportunity_products.load(self.id)

    @strawberry.field
    async def activities(self, info: CtxInfo) -> list[OpportunityActivity]:
        return await info.context.loaders.opportunity_activities.load(self.id)

    @strawberry.field(description="Units per week of the contract lines, per unit (empty: no contract lines).")
    async def weekly_volume(self, info: CtxInfo) -> list[UnitVolume]:
        return UnitVolume.listed(deal_rules.weekly_volume(await deal_lines(info, self.id)))

    @strawberry.field(description=(
        "A year of the deal. PRODUCTS: Σ the lines' annualizedValue (contract lines: 52 weeks of their weekly "
        "value; one-off orders: their total). MANUAL: the typed value scaled as the lines scale (a 104-week "
        "contract's value counts half), or the value itself when there are no lines."))
    async def annualized_value(self, info: CtxInfo) -> Decimal:
        return deal_rules.annualized_value(self.value, self.value_source, await deal_lines(info, self.id))

    @strawberry.field
    async def documents(self, info: CtxInfo) -> list[OpportunityDocument]:
        return await info.context.loaders.opportunity_documents.load(self.id)

    @strawberry.field
    async def competitors(self, info: CtxInfo) -> list[Competitor]:
        return await info.context.loaders.opportunity_competitors.load(self.id)

    @strawberry.field(description="The deal's tasks, newest first (those you may see: yours, or your reps' as a manager).")
    async def tasks(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
    ) -> Annotated["TaskConnection", strawberry.lazy("app.api.work")]:
        connection = await child_connection(info.context.loaders.opportunity_tasks, self.id, first, after)
        return cast("TaskConnection", connection)

    @strawberry.field(description="Customer interactions logged on the deal, newest first.")
    async def interactions(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
    ) -> Annotated["CustomerInteractionConnection", strawberry.lazy("app.api.interactions")]:
        connection = await child_connection(info.context.loaders.opportunity_interactions, self.id, first, after)
        return cast("CustomerInteractionConnection", connection)

    @strawberry.field(description="Every change to the record's fields, newest first; `fields` (or `field`, for "
                                  "one) keeps only those fields (names as in the type).")
    async def history(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None, fields: Optional[list[str]] = None,
        field: Optional[str] = None,
    ) -> Annotated["FieldHistoryConnection", strawberry.lazy("app.api.history")]:
        return await _history(info, "opportunity", cast("Model", self).pk, first, after, fields, field)

    @strawberry.field(description="Every stage move, oldest first (append-only log).")
    async def stage_history(self, info: CtxInfo) -> list[StageTransition]:
        return await info.context.loaders.stage_history.load(self.id)

    @strawberry.field(description="Whole days since the opportunity entered its current stage.")
    def days_in_stage(self) -> int:
        return (datetime.now(timezone.utc) - self.stage_entered_at).days

    @strawberry.field(description="Too long in stage, or no activity for the stage's expected duration, "
                                  "unless an activity is scheduled ahead.")
    async def is_stale(self, info: CtxInfo) -> bool:
        stage = await info.context.loaders.stage.load(self.stage_id)
        activities = await info.context.loaders.opportunity_activities.load(self.id)
        now = datetime.now(timezone.utc)
        meaningful = [a for a in activities if a.type != ActivityTypeEnum.SYSTEM]
        last_done = max((a.completed_at for a in meaningful if a.completed_at), default=None)
        scheduled = any(a.scheduled_at and a.scheduled_at > now and a.completed_at is None for a in meaningful)
        return stale_rule(to_spec(stage), self.stage_entered_at, last_done, scheduled, now)
