"""Test data built through the same services the API uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from tortoise.models import Model

from app.domain.enums import ActivityType
from app.domain.global_ids import decode_global_id, global_id, node_type_of
from app.models import Opportunity, OpportunityActivity, Product, User
from app.queries.visibility import scope_for
from app.services import accounts, catalog, opportunities


def gid(row: Model) -> str:
    """The global id the API names a row by (GraphQL types are named like their models)."""
    return global_id(type(row).__name__, row.pk)


def pk(node_id: str) -> int:
    """The row key behind a global id the API returned."""
    type_name = node_type_of(node_id)
    assert type_name is not None, node_id
    return decode_global_id(node_id, type_name)


async def account(owner: User, name: str = "Harbor Grill", **extra):
    return await accounts.create_account(await scope_for(owner), {"name": name, **extra})


async def product(by: User, sku: str = "POT-50", price: str = "24.50", **extra) -> Product:
    data = {"sku": sku, "name": f"Product {sku}", "category": "produce", "unit": "case", "unit_price": Decimal(price)}
    return await catalog.create_product(await scope_for(by), {**data, **extra})


async def opportunity(owner: User, account_id: int, name: str = "Weekly produce", **extra):
    data = {"name": name, "account_id": account_id, "expected_close_date": date.today() + timedelta(days=30),
            "value": Decimal("5000.00")}
    return await opportunities.create_opportunity(await scope_for(owner), {**data, **extra})


async def ready_to_leave_discovery(deal: Opportunity, budget: str = "8000.00") -> None:
    """What the default pipeline's discovery exit gate asks for: a completed call and a budget."""
    await OpportunityActivity.create(opportunity_id=deal.id, type=ActivityType.CALL, subject="Discovery call",
                                     completed_at=datetime.now(timezone.utc) - timedelta(hours=1))
    await Opportunity.filter(id=deal.id).update(budget=Decimal(budget))
