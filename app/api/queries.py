"""Query root: thin resolvers that apply visibility and pagination from app.queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Optional, TypeVar, cast

import strawberry
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import SortDirection
from app.api.errors import parse_id, require_scope, top_level_error
from app.api.user_input import bad_user_input
from app.api.inputs import (
    AccountFilter,
    AccountOrder,
    ContactFilter,
    OpportunityFilter,
    OpportunityOrder,
    ProductFilter,
    UserFilter,
)
from app.api.relay import Connection, page_connection
from app.api.types import Account, Contact, Node, Opportunity, Pipeline, Product, User
from app.domain.errors import ValidationFailed
from app.domain.global_ids import InvalidGlobalId, decode_global_id, node_type_of
from app.queries.changelog import updated_since_filter
from app.queries.pipeline_health import overdue_filter, stale_filter
from app.queries.archived import archived_filter
from app.queries.visibility import NODE_MODELS, Scope, read_filter, account_read_filter, contact_filter, opportunity_filter, user_filter


Row = TypeVar("Row", bound=Model)


def _ids(values, field: str) -> list[int]:
    return [parse_id(v, field) for v in values]


async def _node(qs: QuerySet[Row], raw_id: strawberry.ID, type_name: str) -> Row | None:
    try:
        pk = parse_id(raw_id, "id", type_name)
    except ValidationFailed:
        return None
    return await qs.filter(id=pk).first()


MAX_NODES = 100


async def load_nodes(scope: Scope, ids: list[strawberry.ID]) -> list[Optional[Node]]:
    """The records the ids name that the caller may read (visibility as for every other read: one
    query per type asked for); None for the rest, whatever the reason."""
    wanted: dict[str, set[int]] = defaultdict(set)
    keys: list[tuple[str, int] | None] = []
    for raw in ids:
        type_name = node_type_of(raw)
        model = NODE_MODELS.get(type_name or "")
        try:
            pk = decode_global_id(raw, type_name or "") if model else None
        except InvalidGlobalId:
            pk = None
        keys.append((type_name, pk) if type_name and pk else None)
        if type_name and pk:
            wanted[type_name].add(pk)
    found: dict[tuple[str, int], Model] = {}
    for type_name, pks in wanted.items():
        model = NODE_MODELS[type_name]
        for row in await model.filter(read_filter(model, scope), id__in=sorted(pks)):
            found[(type_name, row.pk)] = row
    return [cast(Optional[Node], found.get(key)) if key else None for key in keys]


def filter_reads_clock(f: OpportunityFilter | None) -> bool:
    """Whether what the filter selects changes with time alone (stale, overdue)."""
    return f is not None and (f.stale is not None or f.overdue is not None)


def opportunity_query_shape(f: OpportunityFilter | None, scope: Scope) -> tuple | None:
    """A name for the query `opportunity_query(f, opportunity_filter(scope))` builds: equal names, equal
    SQL and parameters (it depends on the filter's values and on what the sharing model reads of the
    caller). None when the filter reads the clock."""
    return None if filter_reads_clock(f) else ("opportunities", scope.sharing_key, repr(f))


async def opportunity_query(f: OpportunityFilter | None, visible: Q, now: datetime | None = None):
    """The opportunities a list filter selects among the visible ones (shared with the fast path).
    `stale` and `overdue` read the clock: `now`, default the current time."""
    qs = m.Opportunity.filter(visible, archived_filter(m.Opportunity, f.archived if f else False))
    if f is None:
        return qs
    now = now or datetime.now(timezone.utc)
    if f.stale is not None:
        stale = await stale_filter(now)
        qs = qs.filter(stale if f.stale else ~stale)
    if f.overdue is not None:
        overdue = overdue_filter(now.date())
        qs = qs.filter(overdue if f.overdue else ~overdue)
    if f.status:
        qs = qs.filter(stage__kind__in=f.status)
    if f.stage:
        qs = qs.filter(stage__key__in=f.stage)
    if f.assigned_to:
        qs = qs.filter(assigned_to_id__in=_ids(f.assigned_to, "assigned_to"))
    if f.account_id:
        qs = qs.filter(account_id=parse_id(f.account_id, "account_id"))
    if f.pipeline_id:
        qs = qs.filter(pipeline_id=parse_id(f.pipeline_id, "pipeline_id"))
    if f.value_min is not None:
        qs = qs.filter(value__gte=f.value_min)
    if f.value_max is not None:
        qs = qs.filter(value__lte=f.value_max)
    if f.expected_close_from:
        qs = qs.filter(expected_close_date__gte=f.expected_close_from)
    if f.expected_close_to:
        qs = qs.filter(expected_close_date__lte=f.expected_close_to)
    if f.search:
        qs = qs.filter(name__icontains=f.search.strip())
    if f.updated_since:
        qs = qs.filter(updated_since_filter(f.updated_since))
    return qs


def _account_query(f: AccountFilter | None, visible: Q):
    qs = m.Account.filter(visible, archived_filter(m.Account, f.archived if f else False))
    if f is None:
        return qs
    if f.search:
        qs = qs.filter(name__icontains=f.search.strip())
    if f.industry:
        qs = qs.filter(industry__in=f.industry)
    if f.tier:
        qs = qs.filter(tier__in=f.tier)
    if f.status:
        qs = qs.filter(status__in=f.status)
    if f.assigned_to:
        qs = qs.filter(assigned_to_id__in=_ids(f.assigned_to, "assigned_to"))
    if f.parent_id:
        qs = qs.filter(parent_id=parse_id(f.parent_id, "parent_id"))
    if f.updated_since:
        qs = qs.filter(updated_since_filter(f.updated_since))
    return qs


def _guard_filters(build):
    try:
        return build()
    except ValidationFailed as exc:
        raise bad_user_input(exc) from None


@strawberry.type
class CoreQuery:
    @strawberry.field(description="The signed-in user.")
    async def me(self, info: CtxInfo) -> User:
        require_scope(info)
        return cast(User, info.context.user)  # set with the scope

    @strawberry.field(description="Any record by its global id, if you may read it (else null, as for an id "
                                  "that names nothing).")
    async def node(self, info: CtxInfo, id: strawberry.ID) -> Optional[Node]:
        scope = require_scope(info)
        return (await load_nodes(scope, [id]))[0]

    @strawberry.field(description="Records by their global ids, in the order asked; null where `node` is null. "
                                  "At most 100 ids.")
    async def nodes(self, info: CtxInfo, ids: list[strawberry.ID]) -> list[Optional[Node]]:
        scope = require_scope(info)
        if len(ids) > MAX_NODES:
            raise top_level_error(f"ids: at most {MAX_NODES} at once", "BAD_USER_INPUT")
        return await load_nodes(scope, ids)

    @strawberry.field
    async def opportunity(self, info: CtxInfo, id: strawberry.ID) -> Optional[Opportunity]:
        scope = require_scope(info)
        return cast(Optional[Opportunity], await _node(m.Opportunity.filter(opportunity_filter(scope)), id, "Opportunity"))

    @strawberry.field
    async def opportunities(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[OpportunityFilter] = None, order_by: Optional[OpportunityOrder] = None,
    ) -> Connection[Opportunity]:
        scope = require_scope(info)
        order = order_by or OpportunityOrder()
        try:
            qs = await opportunity_query(filter, opportunity_filter(scope))
        except ValidationFailed as exc:
            raise bad_user_input(exc) from None
        return await page_connection(qs, first, after, order.field.value, order.direction,
                                     nulls_last=order.field.nullable)

    @strawberry.field
    async def account(self, info: CtxInfo, id: strawberry.ID) -> Optional[Account]:
        scope = require_scope(info)
        return cast(Optional[Account], await _node(m.Account.filter(account_read_filter(scope)), id, "Account"))

    @strawberry.field
    async def accounts(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[AccountFilter] = None, order_by: Optional[AccountOrder] = None,
    ) -> Connection[Account]:
        scope = require_scope(info)
        order = order_by or AccountOrder()
        qs = _guard_filters(lambda: _account_query(filter, account_read_filter(scope)))
        return await page_connection(qs, first, after, order.field.value, order.direction)

    @strawberry.field
    async def contacts(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[ContactFilter] = None,
    ) -> Connection[Contact]:
        scope = require_scope(info)
        qs = m.Contact.filter(contact_filter(scope), archived_filter(m.Contact, filter.archived if filter else False))
        if filter and filter.account_id:
            account_id = _guard_filters(lambda: parse_id(filter.account_id, "account_id"))
            qs = qs.filter(account_id=account_id)
        if filter and filter.search:
            term = filter.search.strip()
            qs = qs.filter(Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(email__icontains=term))
        if filter and filter.updated_since:
            qs = qs.filter(updated_since_filter(filter.updated_since))
        return await page_connection(qs, first, after, "id", SortDirection.ASC)

    @strawberry.field
    async def products(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[ProductFilter] = None,
    ) -> Connection[Product]:
        require_scope(info)
        f = filter or ProductFilter()
        qs = m.Product.all()
        if f.active_only:
            qs = qs.filter(is_active=True)
        if f.category:
            qs = qs.filter(category__in=f.category)
        if f.search:
            term = f.search.strip()
            qs = qs.filter(Q(name__icontains=term) | Q(sku__icontains=term))
        if f.updated_since:
            qs = qs.filter(updated_since_filter(f.updated_since))
        return await page_connection(qs, first, after, "name", SortDirection.ASC)

    @strawberry.field
    async def users(
        self, info: CtxInfo, first: Optional[int] = 20, after: Optional[str] = None,
        filter: Optional[UserFilter] = None,
    ) -> Connection[User]:
        scope = require_scope(info)
        qs = m.User.filter(user_filter(scope))
        if filter and filter.role:
            qs = qs.filter(role__in=filter.role)
        if filter and filter.search:
            term = filter.search.strip()
            qs = qs.filter(Q(name__icontains=term) | Q(email__icontains=term))
        return await page_connection(qs, first, after, "name", SortDirection.ASC)

    @strawberry.field
    async def pipelines(self, info: CtxInfo) -> list[Pipeline]:
        require_scope(info)
        return cast(list[Pipeline], await m.Pipeline.all().order_by("id"))
